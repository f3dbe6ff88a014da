"""The helpers the tests and the benches share, importable without pytest.

Namespaces (``netnslib``), the keepalived lab (``lab``), the etcd launcher and its client
agent (``etcdlib``, ``etcd_agent.py``), netlink byte builders (``nlbytes``), fake records
(``fakes``), the ops tier's tools and systemd containers (``opslib``, ``systemdlib``), and the
scripts the tests run by path (``watch_driver.py``, ``add_label.py``). Only the functions that
skip or fail a test (``require_root_netns``, ``require``, ``require_keepalived``, ...) import
pytest, when called; ``bench/`` imports these modules in venvs without the test extras.
"""
