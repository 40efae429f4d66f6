{{/*
Expand the name of the chart.
*/}}
{{- define "inference-hub.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Create a default fully qualified app name.
We truncate at 63 chars because some Kubernetes name fields are limited to this (by the DNS naming spec).
If release name contains chart name it will be used as a full name.
*/}}
{{- define "inference-hub.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Create chart name and version as used by the chart label.
*/}}
{{- define "inference-hub.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels
*/}}
{{- define "inference-hub.labels" -}}
helm.sh/chart: {{ include "inference-hub.chart" . }}
{{ include "inference-hub.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Selector labels
*/}}
{{- define "inference-hub.selectorLabels" -}}
app.kubernetes.io/name: {{ include "inference-hub.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Create the name of the service account to use
*/}}
{{- define "inference-hub.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "inference-hub.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The gateway's name and selector labels: a second component of the release.
*/}}
{{- define "inference-hub.gatewayFullname" -}}
{{- printf "%s-gateway" (include "inference-hub.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The API pods' labels that the release's Service selects on: the gateway's
and the workers' pods share the others, and must not receive its traffic.
*/}}
{{- define "inference-hub.apiSelectorLabels" -}}
{{ include "inference-hub.selectorLabels" . }}
app.kubernetes.io/component: api
{{- end }}

{{- define "inference-hub.gatewaySelectorLabels" -}}
{{ include "inference-hub.selectorLabels" . }}
app.kubernetes.io/component: gateway
{{- end }}

{{/*
The hub's capability flags, as the binary reads them.
*/}}
{{- define "inference-hub.aiEnv" -}}
- name: AI_ENABLE_OCR
  value: {{ ternary "1" "0" .Values.ai.enableOcr | quote }}
- name: AI_ENABLE_STT
  value: {{ ternary "1" "0" .Values.ai.enableStt | quote }}
- name: AI_ENABLE_TTS
  value: {{ ternary "1" "0" .Values.ai.enableTts | quote }}
{{- end }}

{{/*
What the engines need, the same in the API pods and the workers: engines,
profile, result cache, log format.
*/}}
{{- define "inference-hub.engineEnv" -}}
- name: HUB_ENGINES
  value: {{ .Values.hub.engines | quote }}
- name: HUB_PROFILE
  value: {{ .Values.hub.profile | quote }}
- name: HUB_CACHE_MB
  value: {{ .Values.hub.cache.mb | quote }}
- name: HUB_CACHE_TTL_SECS
  value: {{ .Values.hub.cache.ttlSecs | quote }}
- name: HUB_CACHE_TIMEOUT_MS
  value: {{ .Values.hub.cache.timeoutMs | quote }}
{{- if .Values.hub.cache.redisUrlSecret }}
- name: HUB_CACHE_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.hub.cache.redisUrlSecret }}
      key: url
{{- end }}
- name: HUB_LOG_FORMAT
  value: {{ .Values.hub.logFormat | quote }}
{{- if .Values.hub.merchantsConfigMap }}
- name: HUB_MERCHANTS
  value: /etc/inference-hub/merchants/merchants.jsonl
{{- end }}
{{- end }}

{{/*
The merchant directory's ConfigMap as a volume and its mount, in the API
pods and the workers (HUB_MERCHANTS above points into it).
*/}}
{{- define "inference-hub.merchantsMount" -}}
{{- if .Values.hub.merchantsConfigMap }}
- name: merchants
  mountPath: /etc/inference-hub/merchants
  readOnly: true
{{- end }}
{{- end }}

{{- define "inference-hub.merchantsVolume" -}}
{{- if .Values.hub.merchantsConfigMap }}
- name: merchants
  configMap:
    name: {{ .Values.hub.merchantsConfigMap }}
{{- end }}
{{- end }}

{{/*
The job store and its limits, the same in the API pods and the workers:
PostgreSQL from a Secret when set, else the embedded SQLite file on the
data volume.
*/}}
{{- define "inference-hub.jobsEnv" -}}
{{- if .Values.jobs.postgresUrlSecret }}
- name: HUB_JOBS_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.jobs.postgresUrlSecret }}
      key: url
{{- else }}
- name: HUB_DATA_DIR
  value: /var/lib/inference-hub
{{- end }}
- name: HUB_JOB_TTL_HOURS
  value: {{ .Values.jobs.ttlHours | quote }}
- name: HUB_JOB_MAX_QUEUED
  value: {{ .Values.jobs.maxQueued | quote }}
- name: HUB_JOB_MAX_STORED_MB
  value: {{ .Values.jobs.maxStoredMb | quote }}
- name: HUB_JOB_MAX_ATTEMPTS
  value: {{ .Values.jobs.maxAttempts | quote }}
{{- if .Values.jobs.callbackHosts }}
- name: HUB_CALLBACK_HOSTS
  value: {{ .Values.jobs.callbackHosts | quote }}
- name: HUB_WEBHOOK_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ required "jobs.webhookSecret (a Secret with key `secret`) is needed with jobs.callbackHosts" .Values.jobs.webhookSecret }}
      key: secret
{{- end }}
{{- end }}

{{/*
The embedded job store is one SQLite file on a ReadWriteOnce volume: one
pod at a time. Several replicas, autoscaling or workers need PostgreSQL.
*/}}
{{- define "inference-hub.checkJobs" -}}
{{- if and .Values.jobs.enabled (not .Values.jobs.postgresUrlSecret) }}
{{- if or (gt (int .Values.replicaCount) 1) .Values.autoscaling.enabled .Values.worker.enabled }}
{{- fail "the embedded job store (SQLite on one volume) serves one pod: set jobs.postgresUrlSecret for several replicas, autoscaling or workers, or jobs.enabled=false" }}
{{- end }}
{{- end }}
{{- end }}
