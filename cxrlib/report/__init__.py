"""(interim)"""
