"""station.drivers"""
