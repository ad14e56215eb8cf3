"""The local runtime: the parts AWS provides in the cloud, embedded for one machine."""
