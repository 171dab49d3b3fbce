"""CodeMoat licensing: vendor keys, license files, offline activation, sealed weights, leases, heartbeat and
the vLLM loader plugin. Depends on `cryptography` and the standard library only (torch, transformers and
vLLM are imported inside the functions that need them), so it installs inside a vLLM environment.

Entry points for the appliance (see each module):
    licensing.service.LicenseService      activation, renewal, status, model keys, sealed loading
    licensing.heartbeat.HeartbeatMonitor  periodic re-checks that drive VALID → GRACE → RESTRICTED → STOPPED
    licensing.keyserver.KeyServer         hands a model key to a vLLM process over a Unix socket
    licensing.vendor.VendorKeyring        the vendor's side (keygen, seal, issue, lease, revoke)
"""
