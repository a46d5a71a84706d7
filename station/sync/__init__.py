"""station.sync"""
