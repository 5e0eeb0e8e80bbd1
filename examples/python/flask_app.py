"""A Flask app whose every request is one skylog event (request id, method, path, status,
duration), and whose views' events carry the request id. It also records RequestCount and
ResponseTime (namespace "Shop"); a metrics sink publishes them, e.g. as EMF records:

    SKYLOG_FORMAT=json SKYLOG_METRICS_EMF__PATH=metrics.emf \
        python3 examples/python/flask_app.py                    # serves on 127.0.0.1:5000
"""
import logging

import flask

import skylog
import skylog.flask

logging.getLogger().addHandler(skylog.Handler())
logging.getLogger().setLevel(logging.INFO)
log = logging.getLogger("shop")

app = flask.Flask(__name__)
skylog.flask.init_app(app, namespace="Shop")


@app.route("/orders/<int:order_id>")
def order(order_id):
    log.info("order looked up", extra={"order_id": order_id})
    return {"order": order_id}


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=5000)
