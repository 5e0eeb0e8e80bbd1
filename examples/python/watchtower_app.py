"""A watchtower application moved to skylog by changing one import.

    -import watchtower
    +import skylog as watchtower

Run against a local endpoint:  skylog serve --port 8080 &  then
    AWS_ENDPOINT_URL=http://127.0.0.1:8080 AWS_REGION=us-east-1 \\
    AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x python3 examples/python/watchtower_app.py
"""
import logging
import sys

import skylog as watchtower

group = sys.argv[1] if len(sys.argv) > 1 else "/examples/watchtower"
handler = watchtower.CloudWatchLogHandler(log_group_name=group,
                                          log_stream_name="{machine_name}-{strftime:%Y-%m-%d}",
                                          send_interval=5, create_log_group=True)
log = logging.getLogger("orders")
log.setLevel(logging.INFO)
log.addHandler(handler)
for order in range(3):
    log.info("order %d placed", order, extra={"order_id": order, "total": 9.5 * order})
log.warning("stock low", extra={"sku": "A-1", "left": 2})
# no close needed: what is queued is sent when the interpreter exits
