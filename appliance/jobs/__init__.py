"""Repositories the appliance keeps indexed, and the jobs that do it.

sources = RepositorySources(db, audit, runner, settings)     add a local folder or a git URL, remove, list
runner = JobRunner(db, index, settings, home)                 one worker per process: claims queued jobs
                                                              from the state database, clones or pulls,
                                                              indexes incrementally with live progress,
                                                              and queues scheduled syncs when they are due
"""
