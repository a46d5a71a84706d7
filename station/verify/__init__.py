"""station.verify"""
