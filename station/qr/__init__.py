"""The QR path: camera frame -> raw payload -> validated CCCD identity.

- ``station.qr.idnumber``: structure of the 12-digit ID (province table, sex/century digit).
- ``station.qr.payload``: ``parse_payload(bytes | str) -> QrResult`` (pure, never raises).
- ``station.qr.decoder``: ``QrDecoder`` (zxing-cpp, QR only) and ``QrTracker`` (de-dup).
- ``station.qr.reader``: ``QrReader.process(frame, now)``: decode + de-dup + parse.

Nothing is imported here so that ``station.qr.idnumber`` stays light (no zxing-cpp/numpy).
"""
