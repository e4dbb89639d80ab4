"""svclab.proxy"""
