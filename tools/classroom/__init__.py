"""Classroom load benchmark for the students' app: N students open `make app`'s page at once and draw.

    python -m tools.classroom --students 30 --browsers 3        # or: make classroom STUDENTS=30 BROWSERS=3
    python -m tools.classroom --students 5 --browsers 1 --delay-ms 100 --pool 7
    python -m tools.classroom --students 30 --browsers 0 --rate-mbit 30 --delay-ms 20   # a school's link

A benchmark, not a test: it prints figures and fails only when it cannot run. It starts the app as
`make app` does (app/serve.py: nginx in front of one Voila per core, ``--backends`` of them, or one
Voila with ``--one-voila``; app/config/voila.py, a pool of ``--pool`` warm kernels in all: by default
`make app STUDENTS=N`'s, N plus spares), waits for the pool to be warm, as a teacher would start the
server before class, then lets every student in at once:

* light students (N - K) speak the app's own protocol, as a load generator: they GET the page (which
  may send them on to one of the Voila processes) and the files a real page loads, as a browser with
  an empty cache does (``page_files``: recorded once in Chromium before the class; ``--no-assets``:
  the page alone), take the kernel id and widget ids from it and the kernel, connect to
  ``<base_url>api/kernels/<id>/channels``,
  send the pad's pointer events for real digit strokes as the app page sends them (a mouse move
  every 1/60 s, sent in batches of 0.3 s by app/jupyter/voila/templates/mnist-app/pad_client.js;
  ``--per-move``: ipycanvas's one message per move, as JupyterLab sends them) and wait for the
  reading widget to show ``data-digit``;
* browser students (K) are Debian's Chromium pages drawing with the mouse on ``.mnist-pad canvas``;
  ink (mouse move -> the stroke's pixel on the canvas) and reading (mouse up -> final reading)
  latencies are measured inside the page.

It prints, per kind of student: time to a usable pad, ink and reading latency (p50/p90/max),
accuracy (digits read as drawn) and failures; and the memory of the server and its kernels (PSS,
browsers excluded) per student, and what the page weighs in Chromium (a first visit, a reload).
``--delay-ms`` puts a delaying TCP proxy (half the delay each way) between the students and the app.
``--rate-mbit`` puts the app in a network namespace behind a link the whole class shares
(``school_link``: tc netem, or tbf and the delaying proxy where the kernel lacks netem; root).
Everything is bounded in time, and every process group and namespace it starts is removed on exit.

Voila runs in its own session, so with Linux's autogroup scheduling (on by default) the server and
its kernels get a share of the CPU apart from the students' side, as on a server of their own; but
also apart from anything else on the machine: figures taken while other sessions keep the cores
busy are slower, whatever those sessions' nice level (``cat /proc/loadavg`` before a run).
Chromium runs in a session of its own too; the benchmark gives it the lowest weight, so its pages (which
stand for laptops of their own) take only the CPU the server and the light students leave
(``--browsers-share-cpu``: an equal share).

The modules, one job each: ``student`` (what a student does and saw), ``protocol`` (the kernel
websocket), ``page_files`` (a page's files as a browser fetches them), ``light_student``,
``chromium_student``, ``delay_proxy``, ``school_link``, ``server_usage`` (memory and CPU of Voila,
nginx and the kernels), ``teacher_page`` (saves in collect mode, ``--save-every``, and the teacher's live
view open throughout, ``--teacher``), ``class_run`` (everyone at once), ``report`` and ``__main__``
(the command line). The digits drawn are ``tools.drawn_digits``; the server's lifecycle is
``tools.local_servers``'.
"""
