{{/* Chart name, overridable with nameOverride. */}}
{{- define "spin-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name every object is named after: fullnameOverride, else the release name when it already contains
the chart name, else "<release>-<chart>". Kept to 40 characters so the Services named after it
("<fullname>-webhook", "<fullname>-metrics") stay valid DNS labels (63 characters) with room to spare.
*/}}
{{- define "spin-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* "<chart>-<version>" for the helm.sh/chart label. */}}
{{- define "spin-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "spin-operator.labels" -}}
helm.sh/chart: {{ include "spin-operator.chart" . }}
{{ include "spin-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: spinkube
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Labels the operator's Deployment and Services select its pods by. */}}
{{- define "spin-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "spin-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The operator's ServiceAccount. */}}
{{- define "spin-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "spin-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Operator image reference: digest beats tag; the tag defaults to the appVersion. */}}
{{- define "spin-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* Names the operator is told on its command line, so they always match the objects below. */}}
{{- define "spin-operator.webhookServiceName" -}}
{{- printf "%s-webhook" (include "spin-operator.fullname" .) }}
{{- end }}

{{- define "spin-operator.webhookCertSecretName" -}}
{{- printf "%s-webhook-cert" (include "spin-operator.fullname" .) }}
{{- end }}

{{- define "spin-operator.mutatingWebhookConfigurationName" -}}
{{- printf "%s-mutating-webhook-configuration" (include "spin-operator.fullname" .) }}
{{- end }}

{{- define "spin-operator.validatingWebhookConfigurationName" -}}
{{- printf "%s-validating-webhook-configuration" (include "spin-operator.fullname" .) }}
{{- end }}

{{- define "spin-operator.metricsServiceName" -}}
{{- printf "%s-metrics" (include "spin-operator.fullname" .) }}
{{- end }}

{{- define "spin-operator.leaseName" -}}
{{- default (printf "%s-leader" (include "spin-operator.fullname" .)) .Values.leaderElection.leaseName }}
{{- end }}

{{/* Leader election is on when asked for or when more than one replica runs. */}}
{{- define "spin-operator.leaderElect" -}}
{{- if or .Values.leaderElection.enabled (gt (int .Values.replicaCount) 1) }}true{{- end }}
{{- end }}

{{/* Label on the chart's default executors; the executor webhook skips objects carrying it. */}}
{{- define "spin-operator.defaultExecutorLabel" -}}
core.spinkube.dev/default-executor
{{- end }}

{{/* With watchNamespace set, the webhooks only look at that namespace, like the reconcilers. */}}
{{- define "spin-operator.webhookNamespaceSelector" -}}
namespaceSelector:
  matchExpressions:
    - key: kubernetes.io/metadata.name
      operator: In
      values: [{{ .Values.watchNamespace | quote }}]
{{- end }}

{{/* The node installer: its objects' name, image, and the label it puts on readied nodes. */}}
{{- define "spin-operator.nodeInstallerName" -}}
{{- printf "%s-node-installer" (include "spin-operator.fullname" .) }}
{{- end }}

{{- define "spin-operator.nodeInstallerImage" -}}
{{- with .Values.nodeInstaller.image }}
{{- if .digest }}
{{- printf "%s@%s" .repository .digest }}
{{- else }}
{{- printf "%s:%s" .repository (default $.Chart.AppVersion .tag) }}
{{- end }}
{{- end }}
{{- end }}

{{- define "spin-operator.shimReadyLabel" -}}
spinkube.dev/shim
{{- end }}

{{/* What the installer and its cleanup are told about the node (host paths). */}}
{{- define "spin-operator.nodeInstallerEnv" -}}
- name: SHIM_DIR
  value: {{ .Values.nodeInstaller.shimDir | quote }}
- name: CONTAINERD_CONFIG
  value: {{ .Values.nodeInstaller.containerdConfig | quote }}
- name: RUST_LOG
  value: {{ .Values.logging.level | quote }}
{{- end }}
