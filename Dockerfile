# A minimal image of tasksvc for a PaaS: the static binary on distroless,
# running as an unprivileged user.
#   docker build -t tasksvc .
#   docker run -p 8000:8000 -e DATABASE_URL='postgres://…' tasksvc

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
# The sources and every file they embed (TestDockerfileCopiesWhatIsEmbedded).
COPY *.go schema.sql openapi.json ./
COPY docsui ./docsui
COPY third_party ./third_party
# -buildvcs=false: the build context has no .git, so there is no revision
# to record (-version shows the module version only).
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags='-s -w' -o /out/tasksvc .

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/tasksvc /tasksvc
USER nonroot:nonroot
EXPOSE 8000
ENTRYPOINT ["/tasksvc"]
