"""Platform administration (operators, not organisations): dead letters of the task queues."""
