package release

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Keys of the legacy history ConfigMap.
const (
	// HistoryKey holds the history YAML (Harness's ReleaseHistoryKeyName).
	HistoryKey = "releaseHistory"
	// CompressedKey is "true" when HistoryKey holds base64 of gzip
	// (Harness's CompressedReleaseHistoryFlag).
	CompressedKey = "isReleaseHistoryCompressed"
	// MetadataKey holds kube-release's per-release Metadata as JSON. Harness
	// never reads it, and keeps it when it rewrites the ConfigMap.
	MetadataKey = "kubeReleaseMetadata"
)

// MaxObjectSize is the API server's limit on the data of a ConfigMap or a
// Secret: 1 MiB.
const MaxObjectSize = 1 << 20

// maxDecompressed bounds what a stored payload may expand to, so a damaged
// or hostile object cannot exhaust memory.
const maxDecompressed = 64 << 20

// DecodeConfigMap reads the legacy history in cm. A nil cm, or one without
// the releaseHistory key, is an empty history: that is how Harness treats
// them. The history is plain YAML unless isReleaseHistoryCompressed is
// "true" (any case, as Java's Boolean.parseBoolean reads it).
func DecodeConfigMap(cm *corev1.ConfigMap) (History, error) {
	h, _, err := decodeConfigMap(cm)
	return h, err
}

// decodeConfigMap is DecodeConfigMap that also returns the history's
// top-level keys kube-release does not model (see unmarshalLegacy).
func decodeConfigMap(cm *corev1.ConfigMap) (History, []field, error) {
	data, err := storedHistoryYAML(cm)
	if err != nil || data == nil {
		return nil, nil, err
	}
	h, extra, err := unmarshalLegacy(data)
	if err != nil {
		return nil, nil, configMapCorrupt(cm, HistoryKey, err)
	}
	if meta, ok := cm.Data[MetadataKey]; ok {
		if err := attachLegacyMetadata(h, meta); err != nil {
			return nil, nil, &CorruptError{
				Object: configMapName(cm),
				Part:   "key " + MetadataKey,
				Err:    err,
				Repair: "to repair, fix or remove that key; it holds only kube-release's own metadata, the release history reads fine",
			}
		}
	}
	return h, extra, nil
}

// storedHistoryYAML is the history YAML of cm, uncompressed; nil when there is none.
func storedHistoryYAML(cm *corev1.ConfigMap) ([]byte, error) {
	if cm == nil {
		return nil, nil
	}
	raw, ok := cm.Data[HistoryKey]
	if !ok || strings.TrimSpace(raw) == "" {
		return nil, nil
	}
	if !strings.EqualFold(cm.Data[CompressedKey], "true") {
		return []byte(raw), nil
	}
	packed, err := base64.StdEncoding.DecodeString(stripSpace(raw))
	if err != nil {
		return nil, configMapCorrupt(cm, HistoryKey, fmt.Errorf("invalid base64: %w", err))
	}
	data, err := gunzip(packed)
	if err != nil {
		return nil, configMapCorrupt(cm, HistoryKey, err)
	}
	return data, nil
}

// EncodeConfigMap stores h in cm as Harness does (YAML, gzip, standard
// base64, isReleaseHistoryCompressed "true") plus kube-release's metadata,
// compressed alike. It leaves every other key, label and annotation of cm
// as it is, and keeps the top-level keys of the history it replaces that
// kube-release does not model. It fails with a *SizeError, leaving cm
// unchanged, when the result would exceed MaxObjectSize.
func EncodeConfigMap(cm *corev1.ConfigMap, h History) error {
	var extra []field
	// Only the keys are wanted: a history that cannot be read has none
	// worth keeping, and is being replaced.
	if y, err := storedHistoryYAML(cm); err == nil && y != nil {
		_, extra, _ = unmarshalLegacy(y)
	}
	return encodeConfigMap(cm, h, extra, MaxObjectSize)
}

// encodeConfigMap is EncodeConfigMap with the history's extra top-level
// keys given, failing when the data would exceed limit.
func encodeConfigMap(cm *corev1.ConfigMap, h History, extra []field, limit int) error {
	data, err := configMapData(cm, h, extra)
	if err != nil {
		return err
	}
	if size := configMapSize(data, cm.BinaryData); size > limit {
		return &SizeError{
			Object:  configMapName(cm),
			Kind:    "ConfigMap",
			Content: fmt.Sprintf("the history of %d releases", len(h)),
			Size:    size,
			Limit:   limit,
		}
	}
	cm.Data = data
	return nil
}

// configMapData is the data of cm with h written into it.
func configMapData(cm *corev1.ConfigMap, h History, extra []field) (map[string]string, error) {
	y, err := marshalLegacy(h, extra)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", configMapName(cm), err)
	}
	packed, err := gzipBytes(y)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", configMapName(cm), err)
	}
	meta, err := marshalLegacyMetadata(h)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", configMapName(cm), err)
	}
	data := make(map[string]string, len(cm.Data)+3)
	for k, v := range cm.Data {
		data[k] = v
	}
	data[HistoryKey] = base64.StdEncoding.EncodeToString(packed)
	data[CompressedKey] = "true"
	delete(data, MetadataKey)
	if meta != "" {
		data[MetadataKey] = meta
	}
	return data, nil
}

// configMapSize is the size of a ConfigMap's data as the API server counts
// it against MaxObjectSize: the values of data and binaryData.
func configMapSize(data map[string]string, binary map[string][]byte) int {
	size := 0
	for _, v := range data {
		size += len(v)
	}
	for _, v := range binary {
		size += len(v)
	}
	return size
}

func configMapName(cm *corev1.ConfigMap) string {
	return "configmap " + cm.Namespace + "/" + cm.Name
}

func configMapCorrupt(cm *corev1.ConfigMap, key string, err error) error {
	return &CorruptError{
		Object: configMapName(cm),
		Part:   "key " + key,
		Err:    err,
		Repair: fmt.Sprintf("to repair, fix the key or delete the ConfigMap (kubectl -n %s delete configmap %s), "+
			"which starts a new history at release 1", cm.Namespace, cm.Name),
	}
}

func stripSpace(s string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, s)
}

// gzipBytes compresses as Harness does (Deflater.BEST_COMPRESSION).
func gzipBytes(b []byte) ([]byte, error) {
	var out bytes.Buffer
	w, err := gzip.NewWriterLevel(&out, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(b); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// gunzip reads gzip from Java's GZIPOutputStream or Go's alike.
func gunzip(b []byte) ([]byte, error) {
	r, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("invalid gzip: %w", err)
	}
	out, err := io.ReadAll(io.LimitReader(r, maxDecompressed+1))
	if err != nil {
		return nil, fmt.Errorf("invalid gzip: %w", err)
	}
	if len(out) > maxDecompressed {
		return nil, fmt.Errorf("gzip expands to more than %s", sizeString(maxDecompressed))
	}
	return out, nil
}

func sizeString(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB (%d bytes)", float64(n)/(1<<20), n)
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB (%d bytes)", float64(n)/(1<<10), n)
	}
	return fmt.Sprintf("%d bytes", n)
}

// The metadata key of the legacy ConfigMap. Harness may rewrite the history
// between two kube-release runs, dropping releases and even reusing their
// numbers (it numbers from the newest release it kept), so each record
// carries a fingerprint of the release it describes and is attached only to
// a release that still matches it. Metadata of releases no longer in the
// history is dropped on the next write.
type legacyMetadata struct {
	Version  string                 `json:"version"`
	Releases []legacyMetadataRecord `json:"releases"`
}

type legacyMetadataRecord struct {
	Number      int    `json:"number"`
	Fingerprint string `json:"fingerprint"`
	Metadata
}

// fingerprint covers what neither kube-release nor Harness changes once a
// release is recorded: its number and its resources. Status and workload
// revisions change legitimately (a rollback marks a release Failed).
func fingerprint(r *Release) string {
	h := sha256.New()
	fmt.Fprintf(h, "%d\n", r.Number)
	for _, id := range r.Resources {
		fmt.Fprintf(h, "%s\x00%s\x00%s\x00%t\n", id.Kind, id.Namespace, id.Name, id.Versioned)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// marshalLegacyMetadata is the MetadataKey value of h: its JSON, gzipped
// and in standard base64 as Harness stores the history beside it, since a
// release that creates thousands of objects lists every one of them. ""
// when no release has metadata.
func marshalLegacyMetadata(h History) (string, error) {
	doc := legacyMetadata{Version: legacyVersion}
	for _, r := range NewHistory(h...) {
		if !r.Metadata.IsZero() {
			doc.Releases = append(doc.Releases, legacyMetadataRecord{Number: r.Number, Fingerprint: fingerprint(r), Metadata: r.Metadata})
		}
	}
	if len(doc.Releases) == 0 {
		return "", nil
	}
	plain, err := json.Marshal(doc)
	if err != nil {
		return "", err
	}
	packed, err := gzipBytes(plain)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(packed), nil
}

// attachLegacyMetadata reads a MetadataKey value into h: base64 of gzip of
// JSON, or the plain JSON that kube-release wrote before it compressed the
// key. A JSON object starts with "{", which no base64 text does, so the
// value says which it is.
func attachLegacyMetadata(h History, raw string) error {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil
	}
	data := []byte(raw)
	if raw[0] != '{' {
		packed, err := base64.StdEncoding.DecodeString(stripSpace(raw))
		if err != nil {
			return fmt.Errorf("invalid base64: %w", err)
		}
		if data, err = gunzip(packed); err != nil {
			return err
		}
	}
	var doc legacyMetadata
	if err := json.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("invalid JSON: %w", err)
	}
	if doc.Version != legacyVersion {
		return fmt.Errorf("version %q is not %s, the only version kube-release reads", doc.Version, legacyVersion)
	}
	for _, rec := range doc.Releases {
		if r := h.Get(rec.Number); r != nil && rec.Fingerprint == fingerprint(r) {
			r.Metadata = rec.Metadata
		}
	}
	return nil
}
