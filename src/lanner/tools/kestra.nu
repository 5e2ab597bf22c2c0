# kestra.nu: drive a Kestra (or Lanner) server from Nushell over its REST API only.
#
# As a script, output rendered for people (or --json for programs):
#   nu tools/kestra.nu flow bitter contract-loop
#   nu tools/kestra.nu run bitter contract-loop '{"contract": "/path/to/contract.yaml"}'
#   nu tools/kestra.nu status <execution-id>
#   nu tools/kestra.nu status <execution-id> --json | from json | get state.current
# As a module, Nushell records and tables:
#   use tools/kestra.nu; kestra status <execution-id> | get state.current
#
# Commands: flow NS ID, run NS ID [JSON] [--wait], status ID, logs ID [--min-level L], kill ID,
# restart ID, outputs ID [--all]. In module mode `run` is `kestra execute` (`run` is a Nushell
# keyword).
#
# Credentials never come from argv: KESTRA_URL, KESTRA_USER + KESTRA_PASSWORD or KESTRA_TOKEN,
# else the config file $env.KESTRA_CONFIG or ~/.config/kestra/config.nuon (NUON or JSON:
# {url: "http://localhost:8080", user: "...", password: "..."} or {url: ..., token: ...}).
# The environment wins over the file, key by key. An HTTP error (401, 404, 422...) prints the
# server's message and exits 1 when run as a script (an error value in an interactive shell).

const DEFAULT_URL = "http://localhost:8080"

const HINTS = {
    "401": "check credentials (KESTRA_USER/KESTRA_PASSWORD or KESTRA_TOKEN)"
    "403": "these credentials may not do this"
    "404": "check the namespace, flow id or execution id"
    "422": "check the request (inputs, flow source)"
}

# Stop with a clear message: exit 1 from a script, an error value in an interactive shell.
def fail [message: string] {
    if $nu.is-interactive {
        error make --unspanned {msg: $message}
    }
    print --stderr $"kestra: ($message)"
    exit 1
}

def config-path [] {
    if ($env.KESTRA_CONFIG? | is-not-empty) {
        return $env.KESTRA_CONFIG
    }
    let base = if ($env.XDG_CONFIG_HOME? | is-not-empty) {
        $env.XDG_CONFIG_HOME
    } else {
        $env.HOME? | default "~" | path join ".config"
    }
    $base | path join "kestra" "config.nuon"
}

def config-file [] {
    let path = (config-path)
    if not ($path | path exists) {
        if ($env.KESTRA_CONFIG? | is-not-empty) {
            fail $"KESTRA_CONFIG names ($path), which does not exist"
        }
        return {}
    }
    let parsed = try { open --raw $path | decode utf-8 | from nuon } catch {
        fail $"($path) is not a NUON or JSON record \(url, user, password or token\)"
    }
    if ($parsed | describe | str starts-with "record") { $parsed } else {
        fail $"($path) must hold a record such as {url: ..., user: ..., password: ...}"
    }
}

# Where the server is and how to authenticate: the environment, then the config file.
def settings [] {
    let file = (config-file)
    let pick = {|env_name: string, key: string|
        let value = ($env | get --optional $env_name)
        if ($value | is-not-empty) { $value } else { $file | get --optional $key }
    }
    {
        url: (do $pick "KESTRA_URL" "url" | default $DEFAULT_URL | str trim --right --char "/")
        user: (do $pick "KESTRA_USER" "user")
        password: (do $pick "KESTRA_PASSWORD" "password")
        token: (do $pick "KESTRA_TOKEN" "token")
    }
}

def auth-headers [s: record] {
    if ($s.user | is-not-empty) and ($s.password | is-not-empty) {
        {Authorization: $"Basic ($"($s.user):($s.password)" | encode base64)"}
    } else if ($s.token | is-not-empty) {
        {Authorization: $"Bearer ($s.token)"}
    } else {
        {}
    }
}

def error-message [method: string, path: string, response: record] {
    let body = $response.body
    let detail = if ($body | describe | str starts-with "record") {
        $body.message? | default ""
    } else if ($body | describe) == "binary" {
        $body | decode utf-8 | str substring 0..200
    } else {
        $body | into string | str substring 0..200
    }
    let status = ($response.status | into string)
    let hint = ($HINTS | get --optional $status)
    let reason = $"HTTP ($status) ($method) ($path)"
    let text = if ($detail | is-empty) { $reason } else { $"($reason): ($detail)" }
    if $hint == null { $text } else { $"($text)\n  hint: ($hint)" }
}

# One request; the response body, or a clear failure.
def call [method: string, path: string, body?: any, --multipart] {
    let s = (settings)
    let url = $"($s.url)($path)"
    let headers = (auth-headers $s)
    let response = try {
        match $method {
            "GET" => (http get --full --allow-errors --headers $headers $url)
            "DELETE" => (http delete --full --allow-errors --headers $headers $url)
            "POST" => (if $multipart {
                http post --full --allow-errors --headers $headers --content-type multipart/form-data $url $body
            } else {
                http post --full --allow-errors --headers $headers $url ($body | default "")
            })
        }
    } catch {|err|
        fail $"cannot reach ($s.url): ($err.msg)"
    }
    if $response.status >= 400 {
        fail (error-message $method $path $response)
    }
    $response.body
}

# Kestra's ids, namespaces and execution ids are letters, digits, `.`, `_` and `-`: anything
# else is refused here rather than sent to a different URL.
def encode-path [segment: string] {
    if ($segment | is-empty) or ($segment =~ '[^A-Za-z0-9._-]') {
        fail $"not a valid id or namespace: '($segment)'"
    }
    $segment
}

# A flow's definition (GET /api/v1/flows/{namespace}/{id}).
export def flow [
    namespace: string # the flow's namespace, e.g. bitter
    id: string # the flow's id, e.g. contract-loop
] {
    call GET $"/api/v1/flows/(encode-path $namespace)/(encode-path $id)"
}

def form-value [input_id: string, type: any, value: any] {
    if $type == "FILE" and ($value | describe) == "string" {
        let path = ($value | path expand)
        if ($path | path type) == "file" {
            return (open --raw $path | into binary)
        }
        if not ($value =~ '^[a-z][a-z0-9+.-]*://') {
            fail $"input ($input_id) is a FILE: no such file ($value)"
        }
        return $value # a kestra:// or nsfile:// URI the server resolves
    }
    match ($value | describe | str replace --regex '<.*' '') {
        "string" => $value
        "record" | "list" | "table" => ($value | to json --raw)
        "nothing" => ""
        _ => ($value | into string)
    }
}

# Start an execution; inputs are a JSON object. A value naming an existing file is uploaded
# when the flow declares that input as FILE (the flow is read first to know).
export def execute [
    namespace: string # the flow's namespace
    id: string # the flow's id
    inputs: string = "{}" # the inputs as a JSON object, e.g. '{"contract": "/path/to/contract.yaml"}'
    --wait # answer once the execution has ended
] {
    let values = try { $inputs | from json } catch {
        fail $"inputs must be a JSON object such as '{\"name\": \"value\"}', got: ($inputs)"
    }
    if not ($values | describe | str starts-with "record") {
        fail $"inputs must be a JSON object such as '{\"name\": \"value\"}', got: ($inputs)"
    }
    let declared = (flow $namespace $id | get --optional inputs | default [])
    let types = ($declared | reduce --fold {} {|input, acc| $acc | merge {$input.id: ($input.type? | default "STRING")}})
    let form = ($values | transpose key value | reduce --fold {} {|row, acc|
        $acc | merge {$row.key: (form-value $row.key ($types | get --optional $row.key) $row.value)}
    })
    let query = if $wait { "?wait=true" } else { "" }
    call POST $"/api/v1/executions/(encode-path $namespace)/(encode-path $id)($query)" $form --multipart
}

# An execution with its task runs (GET /api/v1/executions/{id}).
export def status [
    id: string # the execution id
] {
    call GET $"/api/v1/executions/(encode-path $id)"
}

# An execution's log lines, oldest first.
export def logs [
    id: string # the execution id
    --min-level: string # TRACE, DEBUG, INFO, WARN or ERROR
] {
    let query = if ($min_level | is-empty) { "" } else { $"?minLevel=($min_level)" }
    call GET $"/api/v1/logs/(encode-path $id)($query)"
}

# Kill a running execution; answers the execution as it is afterwards.
export def kill [
    id: string # the execution id
] {
    call DELETE $"/api/v1/executions/(encode-path $id)/kill" | ignore
    status $id
}

# Restart a failed or killed execution from its failed task runs.
export def restart [
    id: string # the execution id
] {
    call POST $"/api/v1/executions/(encode-path $id)/restart"
}

# Task outputs keyed by task id (the last run of a repeated task wins); --all: every task run.
export def outputs [
    id: string # the execution id
    --all # a table of every task run's outputs (loops and ForEach iterations apart)
] {
    let runs = (status $id | get --optional taskRunList | default [])
    if $all {
        $runs | each {|r| {
            taskId: $r.taskId
            taskRunId: $r.id
            iteration: ($r.iteration? | default null)
            value: ($r.value? | default null)
            outputs: ($r.outputs? | default {})
        }}
    } else {
        $runs | where {|r| ($r.outputs? | default null) != null } | reduce --fold {} {|r, acc|
            $acc | merge {$r.taskId: $r.outputs}
        }
    }
}

# --------------------------------------------------------------------------- script mode

def duration-of [state: record] {
    let d = ($state.duration? | default null)
    if $d == null { null } else { $d }
}

def flow-view [f: record] {
    {
        namespace: $f.namespace
        id: $f.id
        revision: ($f.revision? | default null)
        description: ($f.description? | default "" | str trim | str replace --all --regex '\s+' ' ')
        disabled: ($f.disabled? | default false)
        inputs: ($f.inputs? | default [] | each {|i| {
            id: $i.id
            type: ($i.type? | default "STRING")
            required: ($i.required? | default true)
            defaults: ($i.defaults? | default null)
        }})
        tasks: ($f.tasks? | default [] | each {|t| {id: $t.id, type: $t.type}})
        triggers: ($f.triggers? | default [] | each {|t| {id: $t.id, type: $t.type}})
    }
}

def execution-view [e: record] {
    {
        id: $e.id
        namespace: $e.namespace
        flowId: $e.flowId
        state: $e.state.current
        startDate: ($e.state.startDate? | default null)
        endDate: ($e.state.endDate? | default null)
        duration: (duration-of $e.state)
        inputs: ($e.inputs? | default {})
        outputs: ($e.outputs? | default {})
        taskRuns: ($e.taskRunList? | default [] | each {|r| {
            taskId: $r.taskId
            iteration: ($r.iteration? | default null)
            state: $r.state.current
            duration: (duration-of $r.state)
        }})
    }
}

def created-view [e: record] {
    {
        id: $e.id
        namespace: $e.namespace
        flowId: $e.flowId
        state: $e.state.current
        url: ($e.url? | default null)
    }
}

def logs-view [lines: list] {
    $lines | each {|l| {
        timestamp: $l.timestamp
        level: $l.level
        taskId: ($l.taskId? | default "")
        message: $l.message
    }}
}

def show [value: any, view: closure, json: bool] {
    if $json {
        $value | to json
    } else {
        do $view $value | table --expand --index false
    }
}

# kestra.nu: Kestra's REST API from Nushell (flow, run, status, logs, kill, restart, outputs).
def main [] {
    print (help main)
}

# Show a flow: its inputs, tasks and triggers.
def "main flow" [
    namespace: string # the flow's namespace
    id: string # the flow's id
    --json # print the server's JSON instead of a table
] {
    show (flow $namespace $id) {|f| flow-view $f } $json
}

# Start an execution; inputs are a JSON object (a path to an existing file goes up for a FILE input).
def "main run" [
    namespace: string # the flow's namespace
    id: string # the flow's id
    inputs: string = "{}" # the inputs as a JSON object
    --wait # answer once the execution has ended
    --json # print the server's JSON instead of a table
] {
    let execution = (execute $namespace $id $inputs --wait=$wait)
    if $wait {
        show $execution {|e| execution-view $e } $json
    } else {
        show $execution {|e| created-view $e } $json
    }
}

# Show an execution: its state, inputs, outputs and task runs.
def "main status" [
    id: string # the execution id
    --json # print the server's JSON instead of a table
] {
    show (status $id) {|e| execution-view $e } $json
}

# Show an execution's log lines.
def "main logs" [
    id: string # the execution id
    --min-level: string # TRACE, DEBUG, INFO, WARN or ERROR
    --json # print the server's JSON instead of a table
] {
    show (logs $id --min-level=$min_level) {|l| logs-view $l } $json
}

# Kill a running execution.
def "main kill" [
    id: string # the execution id
    --json # print the server's JSON instead of a table
] {
    show (kill $id) {|e| created-view $e } $json
}

# Restart a failed or killed execution.
def "main restart" [
    id: string # the execution id
    --json # print the server's JSON instead of a table
] {
    show (restart $id) {|e| created-view $e } $json
}

# Show task outputs by task id (--all: every task run).
def "main outputs" [
    id: string # the execution id
    --all # every task run, loop iterations apart
    --json # print JSON instead of a table
] {
    show (outputs $id --all=$all) {|o| $o } $json
}
