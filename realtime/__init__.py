"""Web layer and live delivery: the ASGI app, the websocket protocol, the hub and the broker."""
