import Hummingbird

/// `GET /api/openapi.json`: the API described in OpenAPI 3.0 (what the server answers is checked
/// against it by schemathesis in the tests).
struct OpenAPIRoute {
    func add(to router: Router<BasicRequestContext>) {
        router.get("api/openapi.json") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"],
                     body: ResponseBody(byteBuffer: ByteBuffer(string: Self.document)))
        }
    }

    static let document = #"""
{
 "openapi": "3.0.3",
 "info": {
  "title": "Tributary server API",
  "version": "1",
  "description": "Every flow run, task run, log line, artifact, worker and agent the server has recorded from the broker's events. Errors are {\"error\": {\"message\": ...}} naming what is wrong. With an API key, every request needs 'Authorization: Bearer KEY'. Live changes: GET /api/changes (Server-Sent Events), not described here."
 },
 "servers": [
  {
   "url": "/api"
  }
 ],
 "paths": {
  "/health": {
   "get": {
    "operationId": "health",
    "responses": {
     "200": {
      "description": "OK",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Health"
        }
       }
      }
     }
    }
   }
  },
  "/flow-runs": {
   "get": {
    "operationId": "listFlowRuns",
    "summary": "Flow runs, newest first.",
    "parameters": [
     {
      "$ref": "#/components/parameters/State"
     },
     {
      "name": "flow",
      "in": "query",
      "required": false,
      "schema": {
       "type": "string"
      }
     },
     {
      "name": "work_queue",
      "in": "query",
      "required": false,
      "schema": {
       "type": "string"
      }
     },
     {
      "name": "parent",
      "in": "query",
      "required": false,
      "schema": {
       "type": "string"
      }
     },
     {
      "name": "since",
      "in": "query",
      "required": false,
      "description": "Created at or after (seconds since 1970).",
      "schema": {
       "type": "number"
      }
     },
     {
      "name": "until",
      "in": "query",
      "required": false,
      "description": "Created before (seconds since 1970).",
      "schema": {
       "type": "number"
      }
     },
     {
      "name": "limit",
      "in": "query",
      "required": false,
      "schema": {
       "type": "integer",
       "minimum": 1,
       "maximum": 1000,
       "default": 50
      }
     },
     {
      "$ref": "#/components/parameters/Cursor"
     },
     {
      "name": "counts",
      "in": "query",
      "required": false,
      "description": "With true, each run carries taskRunCounts (its task runs by state).",
      "schema": {
       "type": "boolean",
       "default": false
      }
     }
    ],
    "responses": {
     "200": {
      "description": "OK",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/FlowRunPage"
        }
       }
      },
      "links": {
       "GetFlowRun": {
        "operationId": "getFlowRun",
        "parameters": {
         "id": "$response.body#/items/0/id"
        }
       },
       "ListTaskRuns": {
        "operationId": "listTaskRuns",
        "parameters": {
         "id": "$response.body#/items/0/id"
        }
       },
       "ListLogs": {
        "operationId": "listLogs",
        "parameters": {
         "id": "$response.body#/items/0/id"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/BadRequest"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     }
    }
   },
   "post": {
    "operationId": "submitFlowRun",
    "summary": "Submit a run to a work queue, for an agent that has the flow.",
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "type": "object",
        "required": [
         "flow"
        ],
        "properties": {
         "flow": {
          "type": "string",
          "minLength": 1
         },
         "input": {},
         "workQueue": {
          "type": "string"
         },
         "idempotencyKey": {
          "type": "string"
         }
        }
       }
      }
     }
    },
    "responses": {
     "201": {
      "description": "Submitted",
      "content": {
       "application/json": {
        "schema": {
         "type": "object",
         "required": [
          "id"
         ],
         "properties": {
          "id": {
           "type": "string"
          }
         }
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/BadRequest"
     },
     "503": {
      "$ref": "#/components/responses/NoBroker"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     }
    }
   }
  },
  "/flow-runs/{id}": {
   "get": {
    "operationId": "getFlowRun",
    "parameters": [
     {
      "$ref": "#/components/parameters/Id"
     }
    ],
    "responses": {
     "200": {
      "description": "OK",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/FlowRunDetail"
        }
       }
      }
     },
     "404": {
      "$ref": "#/components/responses/NotFound"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     }
    }
   }
  },
  "/flow-runs/{id}/task-runs": {
   "get": {
    "operationId": "listTaskRuns",
    "parameters": [
     {
      "$ref": "#/components/parameters/Id"
     },
     {
      "$ref": "#/components/parameters/State"
     },
     {
      "name": "sort",
      "in": "query",
      "required": false,
      "schema": {
       "type": "string",
       "enum": [
        "start",
        "duration"
       ],
       "default": "start"
      }
     },
     {
      "name": "limit",
      "in": "query",
      "required": false,
      "schema": {
       "type": "integer",
       "minimum": 1,
       "maximum": 1000,
       "default": 100
      }
     },
     {
      "$ref": "#/components/parameters/Cursor"
     }
    ],
    "responses": {
     "200": {
      "description": "OK",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/TaskRunPage"
        }
       }
      },
      "links": {
       "GetTaskRunStates": {
        "operationId": "getTaskRunStates",
        "parameters": {
         "id": "$response.body#/items/0/id"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/BadRequest"
     },
     "404": {
      "$ref": "#/components/responses/NotFound"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     }
    }
   }
  },
  "/flow-runs/{id}/logs": {
   "get": {
    "operationId": "listLogs",
    "parameters": [
     {
      "$ref": "#/components/parameters/Id"
     },
     {
      "name": "level",
      "in": "query",
      "required": false,
      "schema": {
       "type": "array",
       "items": {
        "type": "string",
        "enum": [
         "trace",
         "debug",
         "info",
         "notice",
         "warning",
         "error",
         "critical"
        ]
       }
      },
      "style": "form",
      "explode": true
     },
     {
      "name": "after",
      "in": "query",
      "required": false,
      "description": "Only lines after this position.",
      "schema": {
       "type": "integer",
       "minimum": 0,
       "maximum": 9223372036854775807
      }
     },
     {
      "name": "limit",
      "in": "query",
      "required": false,
      "schema": {
       "type": "integer",
       "minimum": 1,
       "maximum": 5000,
       "default": 200
      }
     },
     {
      "name": "task_run",
      "in": "query",
      "required": false,
      "description": "Only this task run's lines.",
      "schema": {
       "type": "string",
       "minLength": 1
      }
     }
    ],
    "responses": {
     "200": {
      "description": "OK",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/LogPage"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/BadRequest"
     },
     "404": {
      "$ref": "#/components/responses/NotFound"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     }
    }
   }
  },
  "/flow-runs/{id}/artifacts": {
   "get": {
    "operationId": "listFlowRunArtifacts",
    "description": "What the flow run and its task runs published, newest first.",
    "parameters": [
     {
      "$ref": "#/components/parameters/Id"
     },
     {
      "name": "limit",
      "in": "query",
      "required": false,
      "schema": {
       "type": "integer",
       "minimum": 1,
       "maximum": 1000,
       "default": 50
      }
     },
     {
      "$ref": "#/components/parameters/Cursor"
     }
    ],
    "responses": {
     "200": {
      "description": "OK",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/ArtifactPage"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/BadRequest"
     },
     "404": {
      "$ref": "#/components/responses/NotFound"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     }
    }
   }
  },
  "/flow-runs/{id}/timeline": {
   "get": {
    "operationId": "flowRunTimeline",
    "description": "Its task runs over time, one lane per worker or task: bars when at most 1,000, else counts of task runs started per time slice (120 slices).",
    "parameters": [
     {
      "$ref": "#/components/parameters/Id"
     },
     {
      "name": "lane",
      "in": "query",
      "required": false,
      "schema": {
       "type": "string",
       "enum": [
        "worker",
        "task"
       ],
       "default": "worker"
      }
     }
    ],
    "responses": {
     "200": {
      "description": "OK",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Timeline"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/BadRequest"
     },
     "404": {
      "$ref": "#/components/responses/NotFound"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     }
    }
   }
  },
  "/flow-runs/{id}/cancel": {
   "post": {
    "operationId": "cancelFlowRun",
    "parameters": [
     {
      "$ref": "#/components/parameters/Id"
     },
     {
      "name": "reason",
      "in": "query",
      "required": false,
      "schema": {
       "type": "string"
      }
     }
    ],
    "responses": {
     "200": {
      "description": "OK",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/CancelAnswer"
        }
       }
      }
     },
     "503": {
      "$ref": "#/components/responses/NoBroker"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     }
    }
   }
  },
  "/task-runs/{id}/states": {
   "get": {
    "operationId": "getTaskRunStates",
    "parameters": [
     {
      "$ref": "#/components/parameters/Id"
     }
    ],
    "responses": {
     "200": {
      "description": "OK",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/StateList"
        }
       }
      }
     },
     "404": {
      "$ref": "#/components/responses/NotFound"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     }
    }
   }
  },
  "/workers": {
   "get": {
    "operationId": "listWorkers",
    "responses": {
     "200": {
      "description": "OK",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/ProcessList"
        }
       }
      }
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     }
    }
   }
  },
  "/agents": {
   "get": {
    "operationId": "listAgents",
    "responses": {
     "200": {
      "description": "OK",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/ProcessList"
        }
       }
      }
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     }
    }
   }
  },
  "/work-queues": {
   "get": {
    "operationId": "listWorkQueues",
    "summary": "Work queues the agents take from and deployments use, with the submitted runs waiting, the agents taking, and (scheduled) the deployments' runs waiting for their time.",
    "responses": {
     "200": {
      "description": "OK",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/QueueList"
        }
       }
      }
     },
     "503": {
      "$ref": "#/components/responses/NoBroker"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     }
    }
   }
  },
  "/task-queues": {
   "get": {
    "operationId": "listTaskQueues",
    "summary": "Task queues the workers take from, with the tasks waiting and the workers taking.",
    "responses": {
     "200": {
      "description": "OK",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/QueueList"
        }
       }
      }
     },
     "503": {
      "$ref": "#/components/responses/NoBroker"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     }
    }
   }
  },
  "/artifacts": {
   "get": {
    "operationId": "listArtifacts",
    "description": "The latest artifact of every key, newest first; with key, that key's history.",
    "parameters": [
     {
      "name": "key",
      "in": "query",
      "required": false,
      "schema": {
       "type": "string",
       "pattern": "^[A-Za-z0-9_-]{1,100}$"
      }
     },
     {
      "name": "limit",
      "in": "query",
      "required": false,
      "schema": {
       "type": "integer",
       "minimum": 1,
       "maximum": 1000,
       "default": 50
      }
     },
     {
      "$ref": "#/components/parameters/Cursor"
     }
    ],
    "responses": {
     "200": {
      "description": "OK",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/ArtifactPage"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/BadRequest"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     }
    }
   }
  },
  "/flow-run-activity": {
   "get": {
    "operationId": "flowRunActivity",
    "description": "Flow runs created in each bucket-second slice since a time, by their state now (the dashboard's chart).",
    "parameters": [
     {
      "name": "since",
      "in": "query",
      "required": true,
      "schema": {
       "type": "number",
       "minimum": 0,
       "exclusiveMaximum": true,
       "maximum": 100000000000
      }
     },
     {
      "name": "bucket",
      "in": "query",
      "required": false,
      "schema": {
       "type": "integer",
       "minimum": 1,
       "maximum": 604800,
       "default": 900
      }
     }
    ],
    "responses": {
     "200": {
      "description": "OK",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Activity"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/BadRequest"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     }
    }
   }
  },
  "/work-queues/{name}/preview": {
   "get": {
    "operationId": "previewWorkQueue",
    "summary": "The deployments' runs that will go onto this work queue, soonest first.",
    "parameters": [
     {
      "name": "name",
      "in": "path",
      "required": true,
      "description": "The work queue's name.",
      "schema": {
       "type": "string",
       "minLength": 1
      }
     },
     {
      "name": "limit",
      "in": "query",
      "required": false,
      "description": "At most this many runs.",
      "schema": {
       "type": "integer",
       "minimum": 1,
       "maximum": 1000,
       "default": 20
      }
     }
    ],
    "responses": {
     "200": {
      "description": "OK",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/ScheduledRunList"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/BadRequest"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     }
    }
   }
  },
  "/deployments": {
   "get": {
    "operationId": "listDeployments",
    "summary": "Every deployment, by name, with when it runs next.",
    "responses": {
     "200": {
      "description": "OK",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/DeploymentList"
        }
       }
      }
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     }
    }
   },
   "post": {
    "operationId": "saveDeployment",
    "summary": "Creates a deployment, or updates the one of that name (201 when created, 200 when updated). A cron expression or time zone the server cannot read, a trigger naming neither a deployment nor a flow, or a schedule with both cron and interval is a 400 naming it: what JSON Schema cannot tell.",
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "$ref": "#/components/schemas/DeploymentSpec"
       }
      }
     }
    },
    "responses": {
     "200": {
      "description": "Updated",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Deployment"
        }
       }
      }
     },
     "201": {
      "description": "Created",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Deployment"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/BadRequest"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     }
    }
   }
  },
  "/deployments/{name}": {
   "get": {
    "operationId": "getDeployment",
    "summary": "One deployment, its next runs (soonest first) and its latest runs pushed or skipped (latest first).",
    "parameters": [
     {
      "name": "name",
      "in": "path",
      "required": true,
      "description": "The deployment's name.",
      "schema": {
       "type": "string",
       "minLength": 1
      }
     },
     {
      "name": "limit",
      "in": "query",
      "required": false,
      "description": "At most this many upcoming and this many recent runs.",
      "schema": {
       "type": "integer",
       "minimum": 1,
       "maximum": 1000,
       "default": 10
      }
     }
    ],
    "responses": {
     "200": {
      "description": "OK",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/DeploymentDetail"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/BadRequest"
     },
     "404": {
      "$ref": "#/components/responses/NoDeployment"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     }
    }
   },
   "delete": {
    "operationId": "deleteDeployment",
    "summary": "Deletes a deployment and its runs not yet pushed.",
    "parameters": [
     {
      "name": "name",
      "in": "path",
      "required": true,
      "description": "The deployment's name.",
      "schema": {
       "type": "string",
       "minLength": 1
      }
     }
    ],
    "responses": {
     "200": {
      "description": "OK",
      "content": {
       "application/json": {
        "schema": {
         "type": "object",
         "required": [
          "deleted"
         ],
         "properties": {
          "deleted": {
           "type": "string"
          }
         }
        }
       }
      }
     },
     "404": {
      "$ref": "#/components/responses/NoDeployment"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     }
    }
   }
  },
  "/deployments/{name}/pause": {
   "post": {
    "operationId": "pauseDeployment",
    "summary": "Pauses a deployment's schedules and triggers; its runs not yet pushed are dropped. Runs ordered by hand still go.",
    "parameters": [
     {
      "name": "name",
      "in": "path",
      "required": true,
      "description": "The deployment's name.",
      "schema": {
       "type": "string",
       "minLength": 1
      }
     }
    ],
    "responses": {
     "200": {
      "description": "OK",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Deployment"
        }
       }
      }
     },
     "404": {
      "$ref": "#/components/responses/NoDeployment"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     }
    }
   }
  },
  "/deployments/{name}/resume": {
   "post": {
    "operationId": "resumeDeployment",
    "summary": "Resumes a paused deployment: its schedules go on from now, or with backfill from when it was paused.",
    "parameters": [
     {
      "name": "name",
      "in": "path",
      "required": true,
      "description": "The deployment's name.",
      "schema": {
       "type": "string",
       "minLength": 1
      }
     },
     {
      "name": "backfill",
      "in": "query",
      "required": false,
      "description": "Also make the runs the pause skipped (by the catch-up policy).",
      "schema": {
       "type": "boolean",
       "default": false
      }
     }
    ],
    "responses": {
     "200": {
      "description": "OK",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Deployment"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/BadRequest"
     },
     "404": {
      "$ref": "#/components/responses/NoDeployment"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     }
    }
   }
  },
  "/deployments/{name}/runs": {
   "post": {
    "operationId": "runDeployment",
    "summary": "Starts a run of the deployment now, or at startAt, with these parameters laid over its own (even while it is paused).",
    "parameters": [
     {
      "name": "name",
      "in": "path",
      "required": true,
      "description": "The deployment's name.",
      "schema": {
       "type": "string",
       "minLength": 1
      }
     }
    ],
    "requestBody": {
     "required": false,
     "content": {
      "application/json": {
       "schema": {
        "$ref": "#/components/schemas/RunOrder"
       }
      }
     }
    },
    "responses": {
     "201": {
      "description": "Created",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/ScheduledRun"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/BadRequest"
     },
     "404": {
      "$ref": "#/components/responses/NoDeployment"
     },
     "401": {
      "$ref": "#/components/responses/Unauthorized"
     }
    }
   }
  }
 },
 "components": {
  "schemas": {
   "Error": {
    "type": "object",
    "properties": {
     "error": {
      "type": "object",
      "properties": {
       "message": {
        "type": "string"
       }
      },
      "required": [
       "message"
      ]
     }
    },
    "required": [
     "error"
    ]
   },
   "Health": {
    "type": "object",
    "properties": {
     "status": {
      "type": "string"
     },
     "ingest": {
      "type": "object",
      "properties": {
       "events": {
        "type": "integer"
       },
       "batches": {
        "type": "integer"
       },
       "malformedBatches": {
        "type": "integer"
       },
       "heldBatches": {
        "type": "integer"
       }
      },
      "required": [
       "events",
       "batches",
       "malformedBatches",
       "heldBatches"
      ]
     }
    },
    "required": [
     "status"
    ]
   },
   "FlowRun": {
    "type": "object",
    "properties": {
     "id": {
      "type": "string"
     },
     "flowName": {
      "type": "string"
     },
     "parentFlowRunID": {
      "type": "string"
     },
     "state": {
      "type": "string"
     },
     "attempt": {
      "type": "integer"
     },
     "workQueue": {
      "type": "string"
     },
     "agent": {
      "type": "string"
     },
     "epoch": {
      "type": "integer"
     },
     "createdAt": {
      "type": "number"
     },
     "startedAt": {
      "type": "number"
     },
     "endedAt": {
      "type": "number"
     },
     "error": {
      "type": "string"
     },
     "parameters": {
      "type": "string",
      "description": "Its input as JSON text (a note of the size past 16 KiB)."
     },
     "result": {
      "type": "string",
      "description": "Its output as JSON text, once Completed."
     },
     "deploymentID": {
      "type": "string",
      "description": "The deployment that made it, if one did."
     },
     "taskRunCounts": {
      "type": "object",
      "additionalProperties": {
       "type": "integer"
      }
     }
    },
    "required": [
     "id",
     "flowName",
     "state",
     "epoch",
     "createdAt"
    ]
   },
   "TaskRun": {
    "type": "object",
    "properties": {
     "id": {
      "type": "string"
     },
     "flowRunID": {
      "type": "string"
     },
     "taskName": {
      "type": "string"
     },
     "runName": {
      "type": "string"
     },
     "state": {
      "type": "string"
     },
     "attempt": {
      "type": "integer"
     },
     "worker": {
      "type": "string"
     },
     "epoch": {
      "type": "integer"
     },
     "createdAt": {
      "type": "number"
     },
     "startedAt": {
      "type": "number"
     },
     "endedAt": {
      "type": "number"
     },
     "error": {
      "type": "string"
     }
    },
    "required": [
     "id",
     "flowRunID",
     "taskName",
     "state",
     "attempt",
     "epoch",
     "createdAt"
    ]
   },
   "State": {
    "type": "object",
    "properties": {
     "state": {
      "type": "string"
     },
     "attempt": {
      "type": "integer"
     },
     "time": {
      "type": "number"
     },
     "error": {
      "type": "string"
     }
    },
    "required": [
     "state",
     "time"
    ]
   },
   "LogLine": {
    "type": "object",
    "properties": {
     "position": {
      "type": "integer"
     },
     "flowRunID": {
      "type": "string"
     },
     "taskRunID": {
      "type": "string"
     },
     "taskName": {
      "type": "string"
     },
     "worker": {
      "type": "string"
     },
     "level": {
      "type": "string"
     },
     "message": {
      "type": "string"
     },
     "time": {
      "type": "number"
     }
    },
    "required": [
     "position",
     "flowRunID",
     "level",
     "message",
     "time"
    ]
   },
   "Process": {
    "type": "object",
    "properties": {
     "id": {
      "type": "string"
     },
     "kind": {
      "type": "string"
     },
     "host": {
      "type": "string"
     },
     "pid": {
      "type": "integer"
     },
     "queues": {
      "type": "array",
      "items": {
       "type": "string"
      }
     },
     "concurrency": {
      "type": "integer"
     },
     "running": {
      "type": "integer"
     },
     "completed": {
      "type": "integer"
     },
     "failed": {
      "type": "integer"
     },
     "durations": {
      "description": "How long its task attempts took (workers): attempts per bucket, the last bucket +Inf.",
      "type": "object",
      "properties": {
       "counts": {
        "type": "array",
        "items": {
         "type": "integer"
        }
       },
       "sum": {
        "type": "number"
       },
       "count": {
        "type": "integer"
       }
      },
      "required": [
       "counts",
       "sum",
       "count"
      ]
     },
     "flowRuns": {
      "type": "array",
      "description": "The flow runs it worked for at its last heartbeat (at most 20).",
      "items": {
       "type": "string"
      }
     },
     "startedAt": {
      "type": "number"
     },
     "lastSeen": {
      "type": "number"
     },
     "interval": {
      "type": "number"
     },
     "stopped": {
      "type": "boolean"
     },
     "alive": {
      "type": "boolean"
     }
    },
    "required": [
     "id",
     "kind",
     "host",
     "pid",
     "queues",
     "concurrency",
     "running",
     "completed",
     "failed",
     "startedAt",
     "lastSeen",
     "interval",
     "stopped",
     "alive"
    ]
   },
   "FlowRunPage": {
    "type": "object",
    "properties": {
     "items": {
      "type": "array",
      "items": {
       "$ref": "#/components/schemas/FlowRun"
      }
     },
     "nextCursor": {
      "type": "string"
     }
    },
    "required": [
     "items"
    ]
   },
   "TaskRunPage": {
    "type": "object",
    "properties": {
     "items": {
      "type": "array",
      "items": {
       "$ref": "#/components/schemas/TaskRun"
      }
     },
     "nextCursor": {
      "type": "string"
     }
    },
    "required": [
     "items"
    ]
   },
   "FlowRunDetail": {
    "type": "object",
    "properties": {
     "flowRun": {
      "$ref": "#/components/schemas/FlowRun"
     },
     "taskRunCounts": {
      "type": "object",
      "additionalProperties": {
       "type": "integer"
      }
     },
     "states": {
      "type": "array",
      "items": {
       "$ref": "#/components/schemas/State"
      }
     }
    },
    "required": [
     "flowRun",
     "taskRunCounts",
     "states"
    ]
   },
   "LogPage": {
    "type": "object",
    "properties": {
     "logs": {
      "type": "array",
      "items": {
       "$ref": "#/components/schemas/LogLine"
      }
     }
    },
    "required": [
     "logs"
    ]
   },
   "StateList": {
    "type": "object",
    "properties": {
     "states": {
      "type": "array",
      "items": {
       "$ref": "#/components/schemas/State"
      }
     }
    },
    "required": [
     "states"
    ]
   },
   "ProcessList": {
    "type": "object",
    "properties": {
     "items": {
      "type": "array",
      "items": {
       "$ref": "#/components/schemas/Process"
      }
     }
    },
    "required": [
     "items"
    ]
   },
   "CancelAnswer": {
    "type": "object",
    "properties": {
     "cancelled": {
      "type": "boolean"
     },
     "flowName": {
      "type": "string"
     }
    },
    "required": [
     "cancelled"
    ]
   },
   "QueueList": {
    "type": "object",
    "required": [
     "items"
    ],
    "properties": {
     "items": {
      "type": "array",
      "items": {
       "type": "object",
       "required": [
        "name",
        "waiting",
        "consumers"
       ],
       "properties": {
        "name": {
         "type": "string"
        },
        "waiting": {
         "type": "integer"
        },
        "consumers": {
         "type": "integer"
        }
       }
      }
     }
    }
   },
   "Artifact": {
    "type": "object",
    "description": "markdown (text), table (columns, rows), link (url, text) or progress (value, 0 to 1).",
    "properties": {
     "kind": {
      "type": "string",
      "enum": [
       "markdown",
       "table",
       "link",
       "progress"
      ]
     },
     "text": {
      "type": "string"
     },
     "columns": {
      "type": "array",
      "items": {
       "type": "string"
      }
     },
     "rows": {
      "type": "array",
      "items": {
       "type": "array",
       "items": {
        "type": "string"
       }
      }
     },
     "url": {
      "type": "string"
     },
     "value": {
      "type": "number"
     }
    },
    "required": [
     "kind"
    ]
   },
   "ArtifactRecord": {
    "type": "object",
    "properties": {
     "id": {
      "type": "string"
     },
     "key": {
      "type": "string"
     },
     "flowRunID": {
      "type": "string"
     },
     "taskRunID": {
      "type": "string"
     },
     "description": {
      "type": "string"
     },
     "artifact": {
      "$ref": "#/components/schemas/Artifact"
     },
     "createdAt": {
      "type": "number"
     }
    },
    "required": [
     "id",
     "flowRunID",
     "artifact",
     "createdAt"
    ]
   },
   "ArtifactPage": {
    "type": "object",
    "properties": {
     "items": {
      "type": "array",
      "items": {
       "$ref": "#/components/schemas/ArtifactRecord"
      }
     },
     "nextCursor": {
      "type": "string"
     }
    },
    "required": [
     "items"
    ]
   },
   "Timeline": {
    "type": "object",
    "properties": {
     "start": {
      "type": "number"
     },
     "end": {
      "type": "number"
     },
     "slice": {
      "type": "number"
     },
     "taskRuns": {
      "type": "integer"
     },
     "aggregated": {
      "type": "boolean"
     },
     "lanes": {
      "type": "array",
      "items": {
       "type": "object",
       "properties": {
        "name": {
         "type": "string"
        },
        "bars": {
         "type": "array",
         "items": {
          "type": "object",
          "properties": {
           "id": {
            "type": "string"
           },
           "name": {
            "type": "string"
           },
           "state": {
            "type": "string"
           },
           "start": {
            "type": "number"
           },
           "end": {
            "type": "number"
           },
           "waitFor": {
            "type": "array",
            "items": {
             "type": "string"
            }
           }
          },
          "required": [
           "id",
           "name",
           "state",
           "start"
          ]
         }
        },
        "counts": {
         "type": "array",
         "items": {
          "type": "integer"
         }
        }
       },
       "required": [
        "name"
       ]
      }
     }
    },
    "required": [
     "start",
     "end",
     "slice",
     "taskRuns",
     "aggregated",
     "lanes"
    ]
   },
   "Activity": {
    "type": "object",
    "properties": {
     "since": {
      "type": "number"
     },
     "bucket": {
      "type": "number"
     },
     "counts": {
      "type": "array",
      "items": {
       "type": "object",
       "properties": {
        "bucket": {
         "type": "integer"
        },
        "state": {
         "type": "string"
        },
        "count": {
         "type": "integer"
        }
       },
       "required": [
        "bucket",
        "state",
        "count"
       ]
      }
     }
    },
    "required": [
     "since",
     "bucket",
     "counts"
    ]
   },
   "Schedule": {
    "type": "object",
    "description": "A cron schedule (cron, with an optional timezone) or an interval (interval, with an optional anchor).",
    "properties": {
     "cron": {
      "type": "string",
      "description": "Five fields: minute hour day-of-month month day-of-week, read on the time zone's wall clock."
     },
     "timezone": {
      "type": "string",
      "description": "An IANA time zone (default UTC), for cron."
     },
     "interval": {
      "type": "number",
      "minimum": 1,
      "maximum": 315360000,
      "description": "Seconds between runs (1 s to 10 years)."
     },
     "anchor": {
      "type": "string",
      "format": "date-time",
      "description": "A time on the interval's grid (default 2020-01-01T00:00:00Z)."
     }
    }
   },
   "ScheduleInput": {
    "type": "object",
    "description": "Either cron (with an optional timezone) or interval (with an optional anchor), not both.",
    "properties": {
     "cron": {
      "type": "string",
      "description": "Five fields: minute hour day-of-month month day-of-week, read on the time zone's wall clock.",
      "nullable": true
     },
     "timezone": {
      "type": "string",
      "description": "An IANA time zone (default UTC), for cron.",
      "nullable": true
     },
     "interval": {
      "type": "number",
      "minimum": 1,
      "maximum": 315360000,
      "description": "Seconds between runs (1 s to 10 years).",
      "nullable": true
     },
     "anchor": {
      "type": "string",
      "format": "date-time",
      "description": "A time on the interval's grid (default 2020-01-01T00:00:00Z).",
      "nullable": true
     }
    }
   },
   "Trigger": {
    "type": "object",
    "properties": {
     "deployment": {
      "type": "string",
      "description": "Runs of this deployment start it; or"
     },
     "flow": {
      "type": "string",
      "description": "runs of this flow (by name) start it."
     },
     "states": {
      "type": "array",
      "items": {
       "type": "string",
       "enum": [
        "Completed",
        "Failed",
        "Crashed",
        "TimedOut",
        "Cancelled",
        "Late"
       ]
      },
      "description": "The states that start it (default Completed)."
     },
     "matchParameters": {
      "type": "object",
      "additionalProperties": true,
      "description": "Only runs whose parameters have these values."
     },
     "matchResult": {
      "type": "object",
      "additionalProperties": true,
      "description": "Only runs whose result has these field values."
     },
     "parameters": {
      "type": "object",
      "additionalProperties": true,
      "description": "The triggered run's parameters; a string that is exactly {{ run.id }}, {{ run.parameters.NAME }}, {{ run.result.FIELD }} (and the like) is filled from the triggering run."
     }
    }
   },
   "TriggerInput": {
    "type": "object",
    "description": "Names one of deployment or flow.",
    "properties": {
     "deployment": {
      "type": "string",
      "description": "Runs of this deployment start it; or",
      "nullable": true
     },
     "flow": {
      "type": "string",
      "description": "runs of this flow (by name) start it.",
      "nullable": true
     },
     "states": {
      "type": "array",
      "items": {
       "type": "string",
       "enum": [
        "Completed",
        "Failed",
        "Crashed",
        "TimedOut",
        "Cancelled",
        "Late"
       ]
      },
      "description": "The states that start it (default Completed).",
      "nullable": true
     },
     "matchParameters": {
      "type": "object",
      "additionalProperties": true,
      "description": "Only runs whose parameters have these values.",
      "nullable": true
     },
     "matchResult": {
      "type": "object",
      "additionalProperties": true,
      "description": "Only runs whose result has these field values.",
      "nullable": true
     },
     "parameters": {
      "type": "object",
      "additionalProperties": true,
      "description": "The triggered run's parameters; a string that is exactly {{ run.id }}, {{ run.parameters.NAME }}, {{ run.result.FIELD }} (and the like) is filled from the triggering run.",
      "nullable": true
     }
    }
   },
   "DeploymentSpec": {
    "type": "object",
    "required": [
     "name",
     "flow"
    ],
    "properties": {
     "name": {
      "type": "string",
      "pattern": "^[A-Za-z0-9._-]{1,200}$"
     },
     "flow": {
      "type": "string",
      "minLength": 1,
      "description": "A flow the agents have registered."
     },
     "parameters": {
      "description": "Any JSON value."
     },
     "workQueue": {
      "type": "string",
      "pattern": "^[A-Za-z0-9._-]{1,200}$",
      "description": "Default: default.",
      "nullable": true
     },
     "schedules": {
      "type": "array",
      "items": {
       "$ref": "#/components/schemas/ScheduleInput"
      },
      "nullable": true
     },
     "tags": {
      "type": "array",
      "items": {
       "type": "string",
       "minLength": 1,
       "maxLength": 100
      },
      "nullable": true
     },
     "description": {
      "type": "string",
      "nullable": true
     },
     "runLimit": {
      "type": "integer",
      "minimum": 1,
      "description": "At most this many of its runs at once; the rest wait.",
      "nullable": true
     },
     "paused": {
      "type": "boolean",
      "nullable": true
     },
     "catchup": {
      "type": "string",
      "enum": [
       "latest",
       "all",
       "none",
       null
      ],
      "description": "Runs missed while no scheduler ran: the latest (default), all or none.",
      "nullable": true
     },
     "triggers": {
      "type": "array",
      "items": {
       "$ref": "#/components/schemas/TriggerInput"
      },
      "nullable": true
     }
    }
   },
   "Deployment": {
    "type": "object",
    "required": [
     "id",
     "name",
     "flow",
     "parameters",
     "workQueue",
     "schedules",
     "tags",
     "paused",
     "catchup",
     "triggers",
     "createdAt",
     "updatedAt"
    ],
    "properties": {
     "id": {
      "type": "string"
     },
     "name": {
      "type": "string"
     },
     "flow": {
      "type": "string"
     },
     "parameters": {
      "description": "Any JSON value."
     },
     "workQueue": {
      "type": "string"
     },
     "schedules": {
      "type": "array",
      "items": {
       "$ref": "#/components/schemas/Schedule"
      }
     },
     "tags": {
      "type": "array",
      "items": {
       "type": "string"
      }
     },
     "description": {
      "type": "string"
     },
     "runLimit": {
      "type": "integer"
     },
     "paused": {
      "type": "boolean"
     },
     "catchup": {
      "type": "string",
      "enum": [
       "latest",
       "all",
       "none"
      ]
     },
     "triggers": {
      "type": "array",
      "items": {
       "$ref": "#/components/schemas/Trigger"
      }
     },
     "createdAt": {
      "type": "number"
     },
     "updatedAt": {
      "type": "number"
     },
     "scheduledThrough": {
      "type": "number",
      "description": "Runs are made up to this time."
     }
    }
   },
   "ScheduledRun": {
    "type": "object",
    "required": [
     "flowRunID",
     "deploymentID",
     "scheduledAt",
     "parameters",
     "origin",
     "status"
    ],
    "properties": {
     "flowRunID": {
      "type": "string"
     },
     "deploymentID": {
      "type": "string"
     },
     "deployment": {
      "type": "string"
     },
     "scheduledAt": {
      "type": "number"
     },
     "parameters": {
      "description": "Any JSON value."
     },
     "origin": {
      "type": "string",
      "description": "schedule, trigger or manual."
     },
     "status": {
      "type": "string",
      "description": "waiting, claimed (being pushed), submitted or skipped."
     },
     "state": {
      "type": "string",
      "description": "Its flow run's state, once recorded."
     },
     "submittedAt": {
      "type": "number"
     },
     "claimedAt": {
      "type": "number"
     }
    }
   },
   "ScheduledRunList": {
    "type": "object",
    "required": [
     "items"
    ],
    "properties": {
     "items": {
      "type": "array",
      "items": {
       "$ref": "#/components/schemas/ScheduledRun"
      }
     }
    }
   },
   "DeploymentList": {
    "type": "object",
    "required": [
     "items"
    ],
    "properties": {
     "items": {
      "type": "array",
      "items": {
       "type": "object",
       "required": [
        "deployment"
       ],
       "properties": {
        "deployment": {
         "$ref": "#/components/schemas/Deployment"
        },
        "nextRunAt": {
         "type": "number"
        }
       }
      }
     }
    }
   },
   "DeploymentDetail": {
    "type": "object",
    "required": [
     "deployment",
     "upcoming",
     "recent"
    ],
    "properties": {
     "deployment": {
      "$ref": "#/components/schemas/Deployment"
     },
     "upcoming": {
      "type": "array",
      "items": {
       "$ref": "#/components/schemas/ScheduledRun"
      }
     },
     "recent": {
      "type": "array",
      "items": {
       "$ref": "#/components/schemas/ScheduledRun"
      }
     }
    }
   },
   "RunOrder": {
    "type": "object",
    "properties": {
     "parameters": {
      "description": "Any JSON value."
     },
     "startAt": {
      "type": "string",
      "format": "date-time",
      "description": "When to start it (default now), such as 2026-12-24T09:00:00Z.",
      "nullable": true
     }
    }
   }
  },
  "parameters": {
   "State": {
    "name": "state",
    "in": "query",
    "required": false,
    "description": "Only these states (repeat, or a comma list).",
    "schema": {
     "type": "array",
     "items": {
      "type": "string",
      "enum": [
       "Scheduled",
       "Late",
       "Pending",
       "Running",
       "Retrying",
       "Completed",
       "Cached",
       "Failed",
       "Crashed",
       "Cancelled",
       "TimedOut"
      ]
     }
    },
    "style": "form",
    "explode": true
   },
   "Cursor": {
    "name": "cursor",
    "in": "query",
    "required": false,
    "description": "A previous page's nextCursor, unchanged.",
    "schema": {
     "type": "string",
     "pattern": "^-?[0-9]{1,17}(\\.[0-9]{1,17})?(e[-+]?[0-9]{1,3})?_[A-Za-z0-9._-]{1,80}$"
    }
   },
   "Id": {
    "name": "id",
    "in": "path",
    "required": true,
    "schema": {
     "type": "string",
     "minLength": 1
    }
   }
  },
  "responses": {
   "BadRequest": {
    "description": "A parameter or body that cannot be used, with a message naming it.",
    "content": {
     "application/json": {
      "schema": {
       "$ref": "#/components/schemas/Error"
      }
     }
    }
   },
   "Unauthorized": {
    "description": "No or a wrong API key.",
    "content": {
     "application/json": {
      "schema": {
       "$ref": "#/components/schemas/Error"
      }
     }
    }
   },
   "NoBroker": {
    "description": "The server has no broker.",
    "content": {
     "application/json": {
      "schema": {
       "$ref": "#/components/schemas/Error"
      }
     }
    }
   },
   "NotFound": {
    "description": "No such run recorded.",
    "content": {
     "application/json": {
      "schema": {
       "$ref": "#/components/schemas/Error"
      }
     }
    }
   },
   "NoDeployment": {
    "description": "No deployment of that name.",
    "content": {
     "application/json": {
      "schema": {
       "$ref": "#/components/schemas/Error"
      }
     }
    }
   }
  }
 }
}
"""#
}
