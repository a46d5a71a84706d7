"""station.qr"""
