"""shopping-assistant-api: thin Chalice handlers; the work lives in chalicelib/."""

from chalice import Chalice

from chalicelib import gateway, logs, metrics, processor
from chalicelib.config import settings

app = Chalice(app_name="shopping-assistant-api")
# Chalice 1.34 still gates WebSocket deployment behind this flag.
app.experimental_feature_flags.update(["WEBSOCKETS"])
logs.setup()


@app.on_ws_connect()
@metrics.observed
def connect(event):
    return gateway.on_connect(gateway.RequestContext.from_event(event.to_dict()))


@app.on_ws_message()
@metrics.observed
def message(event):
    return gateway.on_message(gateway.RequestContext.from_event(event.to_dict(), event.context), event.body)


@app.on_ws_disconnect()
@metrics.observed
def disconnect(event):
    return gateway.on_disconnect(gateway.RequestContext.from_event(event.to_dict()))


@app.on_sqs_message(queue=settings().queue_name, batch_size=settings().sqs_batch_size, name="chat_processor")
@metrics.observed
def chat_processor(event):
    return processor.process_batch(event.to_dict(), event.context)
