"""svclab.testbed.local"""
