"""The ward server: receives the stations' signed records over MQTT and keeps them.

``receiver`` (MQTT, signature and enrolment checks, exactly-once storage, acks), ``db``
(the SQLite database and its queries), ``cli`` (``station ward ...``). It uses the record
format (``station.record``) and the signing and MQTT link code of ``station.sync``, and
never the station's runtime, drivers or simulated parts (checked by the import contracts).
"""
