"""The ward server: receives the stations' signed records over MQTT, keeps them, and
serves the officers' console.

``receiver`` (MQTT, signature and enrolment checks, exactly-once storage, acks), ``db``
(one database layer for SQLite and PostgreSQL: schema and migrations, records, stations,
accounts), ``console`` (the web pages), ``notify`` (how the receiver wakes the console's
live view), ``summary`` (what is indexed of a record; the seven methods), ``export``
(CSV and JSON), ``fold`` (names without diacritics), ``passwords``, ``roles``, ``serve``
and ``cli*`` (``station ward ...``). It uses the record format (``station.record``), the
QR rules (``station.qr``), the verdict's reasons (``station.verify.verdict``) and the
signing and MQTT link code of ``station.sync``, and never the station's runtime, drivers
or simulated parts (checked by the import contracts).
"""
