"""The ward console: the officers' and the admin's web pages on the ward server.

``app`` (the Starlette application and what every request shares), ``security``
(sessions, roles, CSRF, login limits, headers), ``auth`` / ``officer`` / ``search`` /
``admin`` (the pages), ``live`` (records pushed to open pages), ``present`` (what the
officer reads of a record), ``manual`` (methods 4-7, checked like a QR read), ``sheet``
(the printed PDF), ``face``, ``dbpool``, ``server`` (uvicorn, HTTPS). Pages and the
printed sheet are in Vietnamese; the code and the admin's logs in English.
"""
