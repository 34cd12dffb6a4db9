# The container lifecycle as a Docker user scripts it.
. "$(dirname "$0")/lib.sh"

id=$(docker create --name app busybox sh -c 'echo started; exec sleep 1000')
expect_eq "$(docker inspect -f '{{.State.Status}}' app)" created
docker start app >/dev/null
eventually 5 sh -c '[ "$(docker inspect -f "{{.State.Running}}" app)" = true ]'
eventually 5 sh -c 'docker logs app | grep -q started'
expect_eq "$(docker inspect -f '{{.Id}}' app)" "$id"

docker top app | grep -q 'sleep 1000' || fail "top does not show the command"
docker stats --no-stream --format '{{.Name}}' app | grep -qx app || fail "stats"

docker pause app >/dev/null
expect_eq "$(docker inspect -f '{{.State.Status}}' app)" paused
docker unpause app >/dev/null
expect_eq "$(docker inspect -f '{{.State.Status}}' app)" running

docker exec app sh -c 'echo data > /tmp/file'
expect_contains "$(docker diff app)" "A /tmp/file"

docker rename app app2
expect_eq "$(docker ps --filter name=app2 --format '{{.Names}}')" app2

old=$(docker inspect -f '{{.State.Pid}}' app2)
docker restart -t 1 app2 >/dev/null
eventually 5 sh -c '[ "$(docker inspect -f "{{.State.Running}}" app2)" = true ]'
[ "$(docker inspect -f '{{.State.Pid}}' app2)" != "$old" ] || fail "restart kept the pid"

docker kill -s TERM app2 >/dev/null
eventually 5 sh -c '[ "$(docker inspect -f "{{.State.Running}}" app2)" = false ]'
expect_eq "$(docker wait app2)" 143

sleep 1.1
actions=$(docker system events --since 1m --until 0s --filter "container=$id" --format '{{.Action}}' | tr '\n' ' ')
expect_contains "$actions" "create start pause unpause"
expect_contains "$actions" "rename"
expect_contains "$actions" "restart"
docker rm app2 >/dev/null
expect_eq "$(docker ps -aq)" ""
