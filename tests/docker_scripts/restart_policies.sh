# Restart policies: on-failure:2 restarts twice, `docker update` changes the policy.
. "$(dirname "$0")/lib.sh"

docker run -d --name flaky --restart on-failure:2 busybox sh -c 'echo try; exit 1' >/dev/null
eventually 20 sh -c '[ "$(docker inspect -f "{{.RestartCount}} {{.State.Status}}" flaky)" = "2 exited" ]'
sleep 0.5
expect_eq "$(docker logs flaky | wc -l | tr -d ' ')" 3
docker update --restart no flaky >/dev/null
expect_eq "$(docker inspect -f '{{.HostConfig.RestartPolicy.Name}}' flaky)" no
docker container rm flaky >/dev/null
