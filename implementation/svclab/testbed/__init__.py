"""svclab.testbed"""
