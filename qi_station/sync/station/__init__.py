"""sync/station"""
