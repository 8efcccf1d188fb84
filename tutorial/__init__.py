"""The learner's command: build the framework yourself, one step at a time.

    tutorial start 04        # begin step 04 in my_server.py (created from step 03 if missing)
    tutorial check           # run step 04's tests against my_server.py, task by task
    tutorial hint            # a hint for the first task that fails
    tutorial watch           # check again on every save

A thin layer over the step tests: `pytest steps/04_response --server my_server.py`
runs the same checks. See tutorial/README.md.
"""
