"""station.icao"""
