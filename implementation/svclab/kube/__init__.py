"""svclab.kube"""
