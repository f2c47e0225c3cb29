"""pegasus-plan: Pegasus 5 workflows and catalogs to job specs, HTCondor DAGs or the local engine.

Not built yet (see the planner issue).
"""
