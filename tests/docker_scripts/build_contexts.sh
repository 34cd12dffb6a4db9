# Every everyday build-context form, and logs kept per stream.
. "$(dirname "$0")/lib.sh"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf 'FROM busybox\nRUN echo from-stdin > /f\n' | docker build -q -t ctx:stdin - >/dev/null
expect_eq "$(docker run --rm ctx:stdin cat /f)" from-stdin

mkdir "$work/ctx"
echo hello > "$work/ctx/hello.txt"
printf 'FROM busybox\nCOPY hello.txt /\n' | docker build -q -t ctx:dash-f -f - "$work/ctx" >/dev/null
expect_eq "$(docker run --rm ctx:dash-f cat /hello.txt)" hello

printf 'FROM busybox\nCOPY hello.txt /h\n' > "$work/ctx/Dockerfile"
tar -C "$work/ctx" -cz . | docker build -q -t ctx:tar - >/dev/null
expect_eq "$(docker run --rm ctx:tar cat /h)" hello
tar -C "$work/ctx" -cf "$work/ctx.tar" .
docker build -q -t ctx:tarball "$work/ctx.tar" >/dev/null
expect_eq "$(docker run --rm ctx:tarball cat /h)" hello

docker run --name streams busybox sh -c 'echo out; echo err >&2' >/dev/null 2>&1
expect_eq "$(docker logs streams 2>/dev/null)" out
expect_eq "$(docker logs streams 2>&1 >/dev/null)" err
docker rm streams >/dev/null

# A rebuilt tag leaves its old image dangling: `image prune` removes it, `builder build` builds.
printf 'FROM busybox\nRUN echo 1 > /v\n' | docker builder build -q -t dang - >/dev/null
old=$(docker image inspect -f '{{.Id}}' dang)
printf 'FROM busybox\nRUN echo 2 > /v\n' | docker build -q -t dang - >/dev/null
expect_contains "$(docker image prune -f)" "deleted: $old"
expect_eq "$(docker run --rm dang cat /v)" 2
