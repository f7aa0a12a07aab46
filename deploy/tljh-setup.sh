#!/bin/sh
# The Littlest JupyterHub (one server, up to ~100 students): configure an installed TLJH for an MNIST
# class. Run as root on the hub server from the project's clone at /srv/mnist (deploy/README.md):
#   sudo sh /srv/mnist/deploy/tljh-setup.sh [app|lessons]
# Plugin-free: tljh-config, pip into TLJH's user environment, and one jupyterhub_config.d snippet.
set -eu
LANDING="${1:-app}"
SHARED=/srv/mnist
USER_PIP=/opt/tljh/user/bin/pip
USER_PY=/opt/tljh/user/bin/python

# 1. The project, installed once into the environment every student's server runs from. Editable, so
#    mnistlib finds the shipped models in the clone. CPU-only PyTorch first: no CUDA libraries.
"$USER_PIP" install torch==2.14.1 torchvision==0.29.1 --index-url https://download.pytorch.org/whl/cpu
"$USER_PIP" install -r "$SHARED/requirements.txt" -e "$SHARED"

# 2. MNIST, downloaded (or copied from MNIST_SOURCE, a local copy) once into a read-only folder.
mkdir -p /srv/mnist-data
MNISTLIB_DATA_DIR=/srv/mnist-data "$USER_PY" -m mnistlib.data
chmod -R a+rX,go-w /srv/mnist-data "$SHARED"

# 3. One folder for the class's collected drawings (one SQLite store, mnistlib.ClassStore): every student
#    writes to it. The students' group owns it and passes itself on (setgid); the snippet's umask keeps
#    the store's files group-writable whoever made them.
mkdir -p /srv/mnist-class
chgrp jupyterhub-users /srv/mnist-class
chmod 2770 /srv/mnist-class

# 4. Where students land, the shared folders, the wrapper: the same snippet tests/test_hub.py runs.
cp "$SHARED/deploy/jupyterhub_config.d/mnist.py" /opt/tljh/config/jupyterhub_config.d/mnist.py
mkdir -p /etc/systemd/system/jupyterhub.service.d
cat > /etc/systemd/system/jupyterhub.service.d/mnist.conf <<CONF
[Service]
Environment=MNIST_HUB_LANDING=$LANDING MNIST_HUB_SHARED=$SHARED
CONF
systemctl daemon-reload

# 5. Limits from the measured per-student figures (deploy/README.md, "Sizing"), and idle culling:
#    a server nobody used for 30 minutes is stopped (TLJH's own jupyterhub-idle-culler service).
tljh-config set limits.memory 1G
tljh-config set limits.cpu 1
tljh-config set services.cull.timeout 1800
tljh-config set services.cull.every 300
tljh-config reload
