"""svclab.controllers"""
