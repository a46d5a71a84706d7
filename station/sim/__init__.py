"""station.sim"""
