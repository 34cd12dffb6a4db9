# Filters, Go templates and management forms in the shapes scripts use them.
. "$(dirname "$0")/lib.sh"

docker container create --name one --label tier=web busybox true >/dev/null
docker container create --name two busybox true >/dev/null
docker run --name three busybox sh -c 'exit 3' || true

expect_eq "$(docker ps -a --filter label=tier=web --format '{{.Names}}')" one
expect_eq "$(docker ps -a --filter exited=3 --format '{{.Names}}')" three
expect_eq "$(docker ps -a --filter status=created --format '{{.Names}}' | sort | tr '\n' ' ')" "one two "
expect_eq "$(docker ps -aq | wc -l | tr -d ' ')" 3
expect_eq "$(docker ps -a -n 1 --format '{{.Names}}')" three
expect_eq "$(docker container ls -a --format '{{.Names}}: {{.Status}}' --filter name=three | cut -d' ' -f1-3)" "three: Exited (3)"
expect_eq "$(docker inspect -f '{{.State.ExitCode}} {{json .Config.Labels}}' three)" '3 {}'
expect_eq "$(docker inspect --format '{{index .Config.Labels "tier"}}' one)" web
docker ps -a --format 'table {{.Names}}\t{{.Status}}' | head -1 | grep -q '^NAMES' || fail "table header"
docker ps -a --format '{{.Nope}}' >/dev/null 2>&1 && fail "an unknown field must fail"
expect_contains "$(docker ps -a --format '{{.Nope}}' 2>&1 || true)" "Nope"

expect_eq "$(docker image ls --format '{{.Repository}}:{{.Tag}}')" busybox:latest
docker image inspect -f '{{.Id}}' busybox | grep -q '^sha256:' || fail "image inspect"
expect_eq "$(docker ps -a --filter name=one --format '{{.Label "tier"}}')" web
docker container prune -f >/dev/null
expect_eq "$(docker ps -aq)" ""

# Image events: tag, untag.
docker tag busybox evt:1
docker rmi evt:1 >/dev/null
sleep 1.1
expect_eq "$(docker events --since 1m --until 0s --filter type=image --filter event=tag --filter event=untag --format '{{.Action}} {{.Actor.Attributes.name}}' | tr '\n' ';')" "tag evt:1;untag evt:1;"

# Network and volume events.
docker network create evnet >/dev/null
docker network rm evnet >/dev/null
docker volume create evvol >/dev/null
docker volume rm evvol >/dev/null
sleep 1.1
expect_eq "$(docker events --since 1m --until 0s --filter type=network --filter type=volume --format '{{.Type}} {{.Action}}' | tr '\n' ';')" "network create;network destroy;volume create;volume destroy;"
