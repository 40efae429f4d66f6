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
