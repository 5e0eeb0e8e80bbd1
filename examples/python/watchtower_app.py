"""A watchtower application moved to skylog by changing one import.

    -import watchtower
    +import skylog as watchtower

CloudWatch gets what watchtower sent: each record's text (a dict as JSON, a traceback after
its message), in the streams the template names (here one per logger and day). Run against a
local endpoint:  skylog serve --port 8080 &  then
    AWS_ENDPOINT_URL=http://127.0.0.1:8080 AWS_REGION=us-east-1 \\
    AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x python3 examples/python/watchtower_app.py
"""
import logging
import sys

import skylog as watchtower

group = sys.argv[1] if len(sys.argv) > 1 else "/examples/watchtower"
handler = watchtower.CloudWatchLogHandler(log_group_name=group,
                                          log_stream_name="{logger_name}-{strftime:%Y-%m-%d}",
                                          send_interval=5, log_group_retention_days=30)
log = logging.getLogger("orders")
log.setLevel(logging.INFO)
log.addHandler(handler)
for order in range(3):
    log.info("order %d placed", order)
log.warning({"event": "stock_low", "sku": "A-1", "left": 2})
try:
    {}["A-2"]
except KeyError:
    log.exception("lookup failed")
# no close needed: what is queued is sent when the interpreter exits
