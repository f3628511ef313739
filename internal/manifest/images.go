package manifest

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// ImageOverride replaces the image of every container (and init container)
// whose image is in repository Name.
//
// Repositories are compared the way Docker resolves them, so "nginx",
// "docker.io/library/nginx" and "index.docker.io/library/nginx" are the same
// repository, and "user/app" is "docker.io/user/app"; tag and digest of the
// container's image do not matter. A registry host is the first path part
// when it contains "." or ":" or is "localhost", so
// "registry.local:5000/app:1" is repository "registry.local:5000/app", tag
// "1". Other registries are compared as written.
type ImageOverride struct {
	// Name is the repository to match, without tag or digest.
	Name string
	// Image is the new image as written. Without tag and digest it changes
	// only the repository and the container keeps its tag and digest
	// (like kustomize's newName).
	Image string
}

// ParseImageOverrides parses overrides written as "name=image" or as a bare
// "image", which matches its own repository and so must carry a tag or a
// digest (e.g. "nginx:1.27" turns "nginx:1.25" into "nginx:1.27"). It reports
// every invalid override, and two overrides for one repository.
func ParseImageOverrides(specs []string) ([]ImageOverride, error) {
	overrides := make([]ImageOverride, 0, len(specs))
	var errs []error
	for _, spec := range specs {
		name, image, named := strings.Cut(spec, "=")
		if !named {
			ref, err := parseImageRef(spec)
			if err == nil && ref.tag == "" && ref.digest == "" {
				err = errors.New("no tag or digest to set (write name=image to change the repository)")
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("image override %q: %w", spec, err))
				continue
			}
			name, image = ref.repository, spec
		}
		overrides = append(overrides, ImageOverride{Name: name, Image: image})
	}
	if _, err := compileOverrides(overrides); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return overrides, nil
}

// ImageFilter applies image overrides to the containers and init containers
// of every workload kind (see PodTemplatePath). Containers that no override
// matches are left alone; see Unmatched to warn about overrides that did not
// apply.
type ImageFilter struct {
	Overrides []ImageOverride
}

var _ kio.Filter = ImageFilter{}

// Filter edits nodes in place and returns them.
func (f ImageFilter) Filter(nodes []*yaml.RNode) ([]*yaml.RNode, error) {
	overrides, err := compileOverrides(f.Overrides)
	if err != nil {
		return nil, err
	}
	if len(overrides) == 0 {
		return nodes, nil
	}
	for _, node := range nodes {
		err := eachContainer(node, func(c *yaml.RNode) error {
			field, err := c.Pipe(yaml.Lookup("image"))
			if err != nil || field == nil || field.YNode().Kind != yaml.ScalarNode {
				return err
			}
			if newImage, ok := overrides.apply(field.YNode().Value); ok {
				// Edit the scalar in place: it keeps its quoting and comments.
				field.YNode().Value = newImage
				field.YNode().Tag = yaml.NodeTagString
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", describe(node), err)
		}
	}
	return nodes, nil
}

// Unmatched returns the names of the overrides that match no container in
// nodes: usually a typo, which would otherwise deploy the old image quietly.
func (f ImageFilter) Unmatched(nodes []*yaml.RNode) ([]string, error) {
	overrides, err := compileOverrides(f.Overrides)
	if err != nil {
		return nil, err
	}
	used := map[string]bool{}
	for _, image := range Images(nodes) {
		used[normalizeRepository(splitImage(image).repository)] = true
	}
	var unmatched []string
	for _, o := range overrides {
		if !used[o.repository] {
			unmatched = append(unmatched, o.Name)
		}
	}
	return unmatched, nil
}

// Images lists the distinct images of the containers and init containers of
// every workload in nodes, in order of appearance.
func Images(nodes []*yaml.RNode) []string {
	seen := map[string]bool{}
	var images []string
	for _, node := range nodes {
		// Lookups on a workload do not fail; a malformed one has no images.
		_ = eachContainer(node, func(c *yaml.RNode) error {
			if image := stringAt(c, "image"); image != "" && !seen[image] {
				seen[image] = true
				images = append(images, image)
			}
			return nil
		})
	}
	return images
}

func eachContainer(node *yaml.RNode, fn func(container *yaml.RNode) error) error {
	spec, err := PodSpec(node)
	if err != nil || spec == nil {
		return err
	}
	containers, err := Containers(spec)
	if err != nil {
		return err
	}
	for _, c := range containers {
		if err := fn(c); err != nil {
			return err
		}
	}
	return nil
}

type compiledOverride struct {
	ImageOverride
	repository string // normalised Name
	image      imageRef
}

type compiledOverrides []compiledOverride

// compileOverrides validates overrides and normalises their names once.
func compileOverrides(overrides []ImageOverride) (compiledOverrides, error) {
	var (
		compiled compiledOverrides
		errs     []error
	)
	byRepo := map[string]ImageOverride{}
	for _, o := range overrides {
		name, err := parseImageRef(o.Name)
		if err == nil && (name.tag != "" || name.digest != "") {
			err = fmt.Errorf("name %q has a tag or digest; name a repository", o.Name)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("image override %s=%s: %w", o.Name, o.Image, err))
			continue
		}
		image, err := parseImageRef(o.Image)
		if err != nil {
			errs = append(errs, fmt.Errorf("image override %s=%s: %w", o.Name, o.Image, err))
			continue
		}
		repo := normalizeRepository(name.repository)
		if prev, ok := byRepo[repo]; ok {
			errs = append(errs, fmt.Errorf("image overrides %s=%s and %s=%s: same repository", prev.Name, prev.Image, o.Name, o.Image))
			continue
		}
		byRepo[repo] = o
		compiled = append(compiled, compiledOverride{ImageOverride: o, repository: repo, image: image})
	}
	return compiled, errors.Join(errs...)
}

// apply returns the overridden image for image, and false when no override
// matches it.
func (c compiledOverrides) apply(image string) (string, bool) {
	if image == "" {
		return "", false
	}
	ref := splitImage(image)
	repo := normalizeRepository(ref.repository)
	for _, o := range c {
		if o.repository != repo {
			continue
		}
		if o.image.tag != "" || o.image.digest != "" {
			return o.Image, true
		}
		newRef := ref
		newRef.repository = o.image.repository
		return newRef.String(), true
	}
	return "", false
}

// imageRef is an image reference split into its parts.
type imageRef struct {
	repository string // with registry host, if any
	tag        string
	digest     string // "algorithm:hex"
}

func (r imageRef) String() string {
	s := r.repository
	if r.tag != "" {
		s += ":" + r.tag
	}
	if r.digest != "" {
		s += "@" + r.digest
	}
	return s
}

// splitImage splits a reference without validating it: images already in
// manifests are matched as they are, never rejected here.
func splitImage(s string) imageRef {
	var r imageRef
	s, r.digest, _ = strings.Cut(s, "@")
	// A ":" after the last "/" starts the tag; one before it is a port.
	if i := strings.LastIndexByte(s, ':'); i > strings.LastIndexByte(s, '/') {
		s, r.tag = s[:i], s[i+1:]
	}
	r.repository = s
	return r
}

// The grammar of github.com/distribution/reference, which is not a
// dependency of this module; IPv6 registry hosts are not supported.
var (
	repositoryPattern = regexp.MustCompile(`^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$`)
	tagPattern        = regexp.MustCompile(`^[\w][\w.-]{0,127}$`)
	digestPattern     = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$`)
)

// parseImageRef splits and validates a reference given by the user.
func parseImageRef(s string) (imageRef, error) {
	if s == "" {
		return imageRef{}, errors.New("empty image reference")
	}
	r := splitImage(s)
	name, _, hasDigest := strings.Cut(s, "@")
	switch {
	case !repositoryPattern.MatchString(r.repository):
		return imageRef{}, fmt.Errorf("invalid image reference %q: bad repository %q", s, r.repository)
	case strings.HasSuffix(name, ":"):
		return imageRef{}, fmt.Errorf("invalid image reference %q: empty tag", s)
	case r.tag != "" && !tagPattern.MatchString(r.tag):
		return imageRef{}, fmt.Errorf("invalid image reference %q: bad tag %q", s, r.tag)
	case hasDigest && !digestPattern.MatchString(r.digest):
		return imageRef{}, fmt.Errorf("invalid image reference %q: bad digest %q", s, r.digest)
	}
	return r, nil
}

// normalizeRepository spells a repository the way Docker resolves it, so
// that short and long names of one Docker Hub repository compare equal.
func normalizeRepository(repo string) string {
	host, rest, found := strings.Cut(repo, "/")
	if !found || (!strings.ContainsAny(host, ".:") && host != "localhost") {
		host, rest = "docker.io", repo
	}
	if host == "index.docker.io" {
		host = "docker.io"
	}
	if host == "docker.io" && !strings.Contains(rest, "/") {
		rest = "library/" + rest
	}
	return host + "/" + rest
}
