{{/* Labels on every object: the app/color/version triple plus the recommended ones. */}}
{{- define "triton.labels" -}}
app: {{ .Values.app | quote }}
color: {{ .Values.color | quote }}
version: {{ .Values.version | quote }}
app.kubernetes.io/name: triton
app.kubernetes.io/instance: {{ .Release.Name | quote }}
app.kubernetes.io/version: {{ .Values.version | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | quote }}
{{- with .Values.labels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* The user's annotations on an object's metadata (none: nothing rendered). */}}
{{- define "triton.annotations" -}}
{{- with .Values.annotations }}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* The immutable Deployment selector: never the version, which changes on upgrade. */}}
{{- define "triton.selector" -}}
app: {{ .Values.app | quote }}
color: {{ .Values.color | quote }}
app.kubernetes.io/instance: {{ .Release.Name | quote }}
{{- end -}}

{{/* tritonserver's arguments, from the typed values. */}}
{{- define "triton.args" -}}
- --model-repository={{ .Values.modelRepository.uri }}
- --model-control-mode={{ .Values.server.mode }}
{{- if eq .Values.server.mode "poll" }}
- --repository-poll-secs={{ .Values.server.repositoryPollSeconds }}
{{- end }}
{{- if eq .Values.server.mode "explicit" }}
{{- range .Values.server.loadModels }}
- --load-model={{ . }}
{{- end }}
{{- end }}
- --strict-readiness={{ .Values.server.strictReadiness }}
- --exit-timeout-secs={{ .Values.server.exitTimeoutSeconds }}
- --http-port={{ .Values.ports.http }}
- --grpc-port={{ .Values.ports.grpc }}
- --metrics-port={{ .Values.ports.metrics }}
- --allow-metrics=true
{{- /* Latency summaries (quantiles per model): the p99 alert, the dashboard and the report read them. */}}
- --metrics-config=summary_latencies=true
{{- with .Values.restrictedApi }}
{{- if .enabled }}
{{- /* $(VAR) is expanded by the kubelet from the container's env, which reads the Secret. */}}
- --http-restricted-api={{ join "," .apis }}:{{ .header }}=$(TRITON_RESTRICTED_API_KEY)
- --grpc-restricted-protocol={{ join "," .apis }}:{{ .header }}=$(TRITON_RESTRICTED_API_KEY)
{{- end }}
{{- end }}
{{- range .Values.server.extraArgs }}
- {{ . }}
{{- end }}
{{- end -}}

{{/* The Secret that holds the restricted APIs' key. */}}
{{- define "triton.restrictedApiSecret" -}}
{{- default (printf "%s-restricted-api" .Release.Name) .Values.restrictedApi.secretName -}}
{{- end -}}

{{/* The HorizontalPodAutoscaler takes over replicas: on, and this color has pods (an HPA cannot hold 0). */}}
{{- define "triton.autoscaled" -}}
{{- if and .Values.autoscaling.enabled (gt (int .Values.replicas) 0) }}true{{- end }}
{{- end -}}
