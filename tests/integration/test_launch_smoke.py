def test_single_task_is_submitted(world, launch):
    result = launch({"launchId": "l-1", "project": "p", "domain": "d", "workflow": "w", "task": "t",
                     "container": {"image": "busybox", "command": ["echo", "hi"]}, "input": {"x": 1}})
    assert result == {"batchItemFailures": []}
    answers = world.answers()
    print(answers)
    assert answers[0]["detail-type"] == "Task Launched"
    assert len(world.jobs()) == 1
