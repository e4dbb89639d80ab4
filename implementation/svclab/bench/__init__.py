"""svclab.bench"""
