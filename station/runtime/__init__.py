"""The running station: the event loop and its device threads, the wiring that picks real or
simulated adapters, the service plumbing (systemd notify/watchdog), the clock probe, logging.
"""
