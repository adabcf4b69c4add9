"""What ties the stages together: the stage directory contract, sharding, executors and `run`."""
