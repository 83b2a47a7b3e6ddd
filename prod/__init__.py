"""The prod server: gunicorn with gevent workers, as the prod image runs it.

    python -m prod [gunicorn options]

checks every setting first (one line and exit 2 on a bad one), then becomes gunicorn
(`os.execv`: same PID, so gunicorn is PID 1 in the container). gunicorn.conf.py reads the same
settings; `startup` holds its hooks (the schema, once, in the master) and the workers' app;
`worker` the gevent worker class. The dev server lives in dev/.
"""
