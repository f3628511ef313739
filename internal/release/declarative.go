package release

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/kube-release/kube-release/internal/yamlerr"
)

// The declarative release Secret, as Harness's K8sReleaseConstants define it.
const (
	SecretType = corev1.SecretType("harness.io/release/v2")
	// ManifestsKey holds the gzip of the release's manifests: raw gzip bytes
	// as the Secret's data, so base64 once on the wire, never twice.
	ManifestsKey = "release"

	LabelOwner   = "owner"
	OwnerHarness = "harness"
	LabelRelease = "release"
	LabelNumber  = "release-number"
	LabelStatus  = "status"
	// LabelColor and LabelEnvironment hold a blue/green release's Color
	// and Environment (RELEASE_SECRET_RELEASE_COLOR_KEY and
	// RELEASE_SECRET_RELEASE_BG_ENVIRONMENT_KEY).
	LabelColor       = "color"
	LabelEnvironment = "harness.io/bg-environment"

	secretPrefix = "harness.release"
)

// SecretName is the name of release number n's Secret: harness.release.<release>.<n>.
func SecretName(release string, number int) string {
	return secretPrefix + "." + release + "." + strconv.Itoa(number)
}

// SecretListOptions selects the release Secrets of a release with the selectors
// Harness lists them with.
func SecretListOptions(release string) metav1.ListOptions {
	return metav1.ListOptions{
		LabelSelector: LabelOwner + "=" + OwnerHarness + "," + LabelRelease + "=" + release,
		FieldSelector: "type=" + string(SecretType),
	}
}

// JoinManifests joins documents into the multi-document YAML a release
// stores, as Harness's ManifestHelper.toYaml does: each document after a
// "---" line and ending in a newline. Harness splits it again on "---"
// lines. Blank documents are left out.
func JoinManifests(docs ...[]byte) []byte {
	var b bytes.Buffer
	for _, doc := range docs {
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		if !bytes.HasPrefix(doc, []byte("---")) {
			b.WriteString("---\n")
		}
		b.Write(doc)
		if !bytes.HasSuffix(doc, []byte("\n")) {
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

// EncodeSecret returns release r of release name release as its Secret.
// It fails with a *SizeError when the Secret's data would exceed
// MaxObjectSize.
func EncodeSecret(namespace, release string, r *Release) (*corev1.Secret, error) {
	return encodeSecret(namespace, release, r, MaxObjectSize)
}

func encodeSecret(namespace, release string, r *Release, limit int) (*corev1.Secret, error) {
	s := &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: SecretName(release, r.Number), Namespace: namespace},
		Type:       SecretType,
	}
	if err := applyRelease(s, release, r, limit); err != nil {
		return nil, err
	}
	return s, nil
}

// applyRelease writes r into s and leaves the rest of s (other labels, say
// Harness's harness.io/pruning-enabled, annotations, other keys) alone.
// Manifests are written only when r has them, so a status change can go
// through a Release without its manifests.
func applyRelease(s *corev1.Secret, release string, r *Release, limit int) error {
	if err := r.validate(); err != nil {
		return fmt.Errorf("%s: %w", secretName(s), err)
	}
	if msgs := validation.IsValidLabelValue(release); len(msgs) > 0 {
		return fmt.Errorf("%s: release name %q cannot be a label value: %s", secretName(s), release, strings.Join(msgs, "; "))
	}
	if msgs := validation.IsDNS1123Subdomain(s.Name); len(msgs) > 0 {
		return fmt.Errorf("%s: not a valid Secret name: %s", secretName(s), strings.Join(msgs, "; "))
	}
	labels := make(map[string]string, len(s.Labels)+4)
	for k, v := range s.Labels {
		labels[k] = v
	}
	labels[LabelOwner] = OwnerHarness
	labels[LabelRelease] = release
	labels[LabelNumber] = strconv.Itoa(r.Number)
	labels[LabelStatus] = string(r.Status)
	// Empty, they leave the labels as they are: an update keeps them.
	for _, l := range [...]struct{ key, value string }{{LabelColor, string(r.Color)}, {LabelEnvironment, string(r.Environment)}} {
		key, value := l.key, l.value
		if value == "" {
			continue
		}
		if msgs := validation.IsValidLabelValue(value); len(msgs) > 0 {
			return fmt.Errorf("%s: label %s: %q is not a label value: %s", secretName(s), key, value, strings.Join(msgs, "; "))
		}
		labels[key] = value
	}

	data := make(map[string][]byte, len(s.Data)+2)
	for k, v := range s.Data {
		data[k] = v
	}
	if r.Manifests != nil {
		packed, err := gzipBytes(r.Manifests)
		if err != nil {
			return fmt.Errorf("%s: %w", secretName(s), err)
		}
		data[ManifestsKey] = packed
	}
	// The Secret's own creation time stands in for Created, so a release
	// Harness wrote gains no key of kube-release's just by being updated.
	m := r.Metadata
	if m.Created.Equal(s.CreationTimestamp.Time) {
		m.Created = time.Time{}
	}
	delete(data, MetadataKey)
	if !m.IsZero() {
		meta, err := json.Marshal(secretMetadata{Version: legacyVersion, Metadata: m})
		if err != nil {
			return fmt.Errorf("%s: %w", secretName(s), err)
		}
		// Gzipped as the manifests are: a release that creates thousands
		// of objects lists every one of them.
		if data[MetadataKey], err = gzipBytes(meta); err != nil {
			return fmt.Errorf("%s: %w", secretName(s), err)
		}
	}
	size := 0
	for _, v := range data {
		size += len(v)
	}
	if size > limit {
		content := fmt.Sprintf("release %d", r.Number)
		if r.Manifests != nil {
			content = fmt.Sprintf("release %d, whose manifests are %s before gzip,", r.Number, sizeString(len(r.Manifests)))
		}
		return &SizeError{Object: secretName(s), Kind: "Secret", Content: content, Size: size, Limit: limit}
	}
	s.Labels = labels
	s.Data = data
	return nil
}

// gzipMagic starts every gzip stream, and no JSON text.
var gzipMagic = []byte{0x1f, 0x8b}

// secretMetadata is MetadataKey of a release Secret. No fingerprint: the
// Secret is the release, and Harness replaces it whole when it reuses the
// number.
type secretMetadata struct {
	Version string `json:"version"`
	Metadata
}

// DecodeSecret reads a release Secret. Harness reads the number and the
// status from the labels, and the manifests from the release key; so does
// this. A Secret without the release key has no manifests (nil).
func DecodeSecret(s *corev1.Secret) (*Release, error) {
	corrupt := func(part string, err error) error {
		return &CorruptError{
			Object: secretName(s),
			Part:   part,
			Err:    err,
			Repair: fmt.Sprintf("to repair, fix it or delete the Secret (kubectl -n %s delete secret %s), "+
				"which removes this release from the history", s.Namespace, s.Name),
		}
	}
	if s.Type != SecretType {
		return nil, corrupt("type", fmt.Errorf("%q is not %s", s.Type, SecretType))
	}
	r := &Release{}
	number, ok := s.Labels[LabelNumber]
	if !ok {
		return nil, corrupt("label "+LabelNumber, errors.New("missing"))
	}
	n, err := strconv.Atoi(number)
	if err != nil || n < 1 {
		return nil, corrupt("label "+LabelNumber, fmt.Errorf("%q is not a release number", number))
	}
	r.Number = n
	st, ok := s.Labels[LabelStatus]
	if !ok {
		return nil, corrupt("label "+LabelStatus, errors.New("missing"))
	}
	if r.Status = Status(st); !r.Status.valid() {
		return nil, corrupt("label "+LabelStatus, fmt.Errorf("%q is not %s, %s or %s", st, InProgress, Succeeded, Failed))
	}
	// As Harness reads them: any value, "" for none.
	r.Color = Color(s.Labels[LabelColor])
	r.Environment = Environment(s.Labels[LabelEnvironment])
	if packed, ok := s.Data[ManifestsKey]; ok {
		if r.Manifests, err = gunzip(packed); err != nil {
			return nil, corrupt("key "+ManifestsKey, err)
		}
		if r.Resources, err = manifestResources(r.Manifests); err != nil {
			return nil, corrupt("key "+ManifestsKey, err)
		}
	}
	if raw, ok := s.Data[MetadataKey]; ok && len(bytes.TrimSpace(raw)) > 0 {
		// Gzip since kube-release compresses it; plain JSON before.
		if bytes.HasPrefix(raw, gzipMagic) {
			if raw, err = gunzip(raw); err != nil {
				return nil, corrupt("key "+MetadataKey, err)
			}
		}
		var meta secretMetadata
		if err := json.Unmarshal(raw, &meta); err != nil {
			return nil, corrupt("key "+MetadataKey, fmt.Errorf("invalid JSON: %w", err))
		}
		if meta.Version != legacyVersion {
			return nil, corrupt("key "+MetadataKey, fmt.Errorf("version %q is not %s, the only version kube-release reads", meta.Version, legacyVersion))
		}
		r.Metadata = meta.Metadata
	}
	if r.Metadata.Created.IsZero() && !s.CreationTimestamp.IsZero() {
		r.Metadata.Created = s.CreationTimestamp.UTC()
	}
	return r, nil
}

func secretName(s *corev1.Secret) string {
	return "secret " + s.Namespace + "/" + s.Name
}

// manifestResources lists the objects of stored manifests, expanding
// v1 List kinds as Harness's ManifestHelper does. Declarative releases are
// never versioned.
func manifestResources(manifests []byte) ([]ResourceID, error) {
	var ids []ResourceID
	dec := yaml.NewDecoder(bytes.NewReader(manifests))
	for i := 1; ; i++ {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return ids, nil
		}
		if err != nil {
			return nil, fmt.Errorf("manifest %d: %s", i, yamlerr.Message(err, manifests, 1))
		}
		if len(doc.Content) == 0 {
			continue
		}
		root := deref(doc.Content[0])
		if isNull(root) {
			continue
		}
		if root.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("manifest %d is %s, not an object (line %d)", i, kindName(root), root.Line)
		}
		if err := checkMetadata(root); err != nil {
			return nil, fmt.Errorf("manifest %d: %w", i, err)
		}
		id := objectID(root)
		if items := mapValue(root, "items"); strings.HasSuffix(id.Kind, "List") && items != nil && items.Kind == yaml.SequenceNode {
			for j, item := range items.Content {
				if item = deref(item); item.Kind == yaml.MappingNode {
					if err := checkMetadata(item); err != nil {
						return nil, fmt.Errorf("manifest %d: item %d: %w", i, j+1, err)
					}
					ids = append(ids, objectID(item))
				}
			}
			continue
		}
		ids = append(ids, id)
	}
}

// checkMetadata refuses an object whose metadata is not a mapping: no API
// server stores one, and the steps that re-apply or prune a release's
// manifests read them with kyaml, whose getters panic on metadata that is
// a list.
func checkMetadata(n *yaml.Node) error {
	if meta := mapValue(n, "metadata"); meta != nil && !isNull(meta) && meta.Kind != yaml.MappingNode {
		return fmt.Errorf("metadata is %s, not a mapping (line %d)", kindName(meta), meta.Line)
	}
	return nil
}

func objectID(n *yaml.Node) ResourceID {
	var id ResourceID
	id.Kind = scalarValue(mapValue(n, "kind"))
	if meta := mapValue(n, "metadata"); meta != nil && meta.Kind == yaml.MappingNode {
		id.Name = scalarValue(mapValue(meta, "name"))
		id.Namespace = scalarValue(mapValue(meta, "namespace"))
	}
	return id
}

func mapValue(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return deref(n.Content[i+1])
		}
	}
	return nil
}

func scalarValue(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode || isNull(n) {
		return ""
	}
	return n.Value
}
