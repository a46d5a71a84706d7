"""station.display"""
