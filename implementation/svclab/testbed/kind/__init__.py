"""svclab.testbed.kind"""
