package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"mime"
	"os"
	"path/filepath"

	"github.com/agileplus/agileplus"
	"github.com/spf13/cobra"
)

func newArtifactCmd(e *env) *cobra.Command {
	return group("artifact", "Keep files on work packages and features: specs, plans, evidence, build outputs",
		newArtifactPutCmd(e), newArtifactGetCmd(e), newArtifactListCmd(e), newArtifactRmCmd(e), newArtifactRestoreCmd(e))
}

// artifactOwner reads --wp and --feature: exactly one.
func artifactOwner(cmd *cobra.Command, wp, feature string) (kind, ref string, err error) {
	switch {
	case wp != "" && feature != "":
		return "", "", usagef(cmd, "give --wp or --feature, not both")
	case wp != "":
		return agileplus.KindWP, wp, nil
	case feature != "":
		return agileplus.KindFeature, feature, nil
	}
	return "", "", usagef(cmd, "give --wp WP or --feature FEATURE: whose artifacts")
}

// artifactFlags name the flags of the artifact commands by the request
// field each sets.
var artifactFlags = map[string]string{"name": "--name", "labels": "--label", "content_type": "--type", "wp": "--wp", "feature": "--feature"}

func newArtifactPutCmd(e *env) *cobra.Command {
	var wp, feature string
	var in agileplus.ArtifactAdd
	cmd := &cobra.Command{
		Use:   "put (--wp WP | --feature FEATURE) FILE [--name NAME] [--type TYPE] [--label L]...",
		Short: "Upload a file (- for standard input) as an artifact, streamed",
		Example: `  agileplus artifact put --wp CORE-1 build/report.html --label evidence
  tar c dist | agileplus artifact put --feature login - --name dist.tar`,
		Args: argNames("FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			kind, ref, err := artifactOwner(cmd, wp, feature)
			if err != nil {
				return err
			}
			body := io.Reader(e.stdin)
			in.Size = -1
			if args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return err
				}
				defer f.Close()
				st, err := f.Stat()
				if err != nil {
					return err
				}
				if st.Mode().IsRegular() {
					// A file can be read twice: send its checksum, so that
					// the server refuses what arrives otherwise.
					h := sha256.New()
					if _, err := io.Copy(h, f); err != nil {
						return err
					}
					if _, err := f.Seek(0, io.SeekStart); err != nil {
						return err
					}
					in.Size, in.SHA256 = st.Size(), hex.EncodeToString(h.Sum(nil))
				}
				if in.Name == "" {
					in.Name = filepath.Base(args[0])
				}
				if in.ContentType == "" {
					in.ContentType = mime.TypeByExtension(filepath.Ext(args[0]))
				}
				body = f
			} else if in.Name == "" {
				return usagef(cmd, "give --name NAME for standard input")
			}
			a, err := e.client().AddArtifact(cmd.Context(), kind, ref, in, body)
			if err != nil {
				return inFlagWords(err, artifactFlags)
			}
			if e.asJSON {
				return printJSON(e.stdout, a)
			}
			_, err = fmt.Fprintf(e.stdout, "added %s: %s, %d bytes, sha256 %s\n", a.ID, a.Name, a.Size, a.SHA256)
			return err
		},
	}
	cmd.Flags().StringVar(&wp, "wp", "", "the work package (id or key)")
	cmd.Flags().StringVar(&feature, "feature", "", "the feature (id or slug)")
	cmd.Flags().StringVar(&in.Name, "name", "", "the artifact's name (default: the file's)")
	cmd.Flags().StringVar(&in.ContentType, "type", "", "content type (default: from the file's extension)")
	cmd.Flags().StringArrayVar(&in.Labels, "label", nil, "a label (repeat for several)")
	return cmd
}

func newArtifactGetCmd(e *env) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "get ARTIFACT [-o FILE]",
		Short: "Download an artifact to standard output or a file",
		Args:  argNames("ARTIFACT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			rc, a, err := e.client().OpenArtifact(cmd.Context(), args[0], nil)
			if err != nil {
				return err
			}
			defer rc.Close()
			if out == "" || out == "-" {
				_, err := io.Copy(e.stdout, rc)
				return err
			}
			// The file appears whole or not at all.
			tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".part-*")
			if err != nil {
				return err
			}
			defer os.Remove(tmp.Name())
			h := sha256.New()
			n, err := io.Copy(io.MultiWriter(tmp, h), rc)
			if cerr := tmp.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
			if sum := hex.EncodeToString(h.Sum(nil)); n != a.Size || sum != a.SHA256 {
				return fmt.Errorf("artifact %s: got %d bytes with sha256 %s, want %d with %s", a.ID, n, sum, a.Size, a.SHA256)
			}
			return os.Rename(tmp.Name(), out)
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "write to this file (checked against the artifact's size and SHA-256) instead of standard output")
	return cmd
}

func newArtifactListCmd(e *env) *cobra.Command {
	var wp, feature string
	var f agileplus.ArtifactFilter
	cmd := &cobra.Command{
		Use:     "ls (--wp WP | --feature FEATURE) [--prefix P] [--deleted]",
		Aliases: []string{"list"},
		Short:   "List a work package's or feature's artifacts by id",
		Args:    argNames(),
		RunE: func(cmd *cobra.Command, args []string) error {
			kind, ref, err := artifactOwner(cmd, wp, feature)
			if err != nil {
				return err
			}
			as, err := e.client().ListArtifacts(cmd.Context(), kind, ref, f)
			if err != nil {
				return inFlagWords(err, artifactFlags)
			}
			next := nextCursor(as, f.Limit, func(a *agileplus.Artifact) string { return a.ID })
			if e.asJSON {
				return printPage(e.stdout, as, next)
			}
			if len(as) == 0 {
				_, err := fmt.Fprintf(e.stdout, "no artifacts on %s\n", ref)
				return err
			}
			t := newTable(e.stdout, "ID", "NAME", "SIZE", "TYPE", "CREATED")
			for _, a := range as {
				t.row(a.ID, a.Name, fmt.Sprint(a.Size), a.ContentType, a.CreatedAt.Format("2006-01-02 15:04"))
			}
			if err := t.flush(); err != nil {
				return err
			}
			moreHint(e.stderr, next)
			return nil
		},
	}
	cmd.Flags().StringVar(&wp, "wp", "", "the work package (id or key)")
	cmd.Flags().StringVar(&feature, "feature", "", "the feature (id or slug)")
	cmd.Flags().StringVar(&f.Prefix, "prefix", "", "only names starting with this")
	cmd.Flags().BoolVar(&f.Deleted, "deleted", false, "list the deleted artifacts (which restore brings back)")
	limitVar(cmd, &f.Limit, "artifacts")
	cmd.Flags().StringVar(&f.After, "after", "", "artifacts after this cursor: the next of the previous page (the last id)")
	return cmd
}

func newArtifactRmCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "rm ARTIFACT",
		Short: "Delete an artifact (softly: restore brings it back)",
		Args:  argNames("ARTIFACT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := e.client().DeleteArtifact(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if e.asJSON {
				return printJSON(e.stdout, a)
			}
			_, err = fmt.Fprintf(e.stdout, "deleted %s (%s)\n", a.ID, a.Name)
			return err
		},
	}
}

func newArtifactRestoreCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "restore ARTIFACT",
		Short: "Restore a deleted artifact",
		Args:  argNames("ARTIFACT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := e.client().RestoreArtifact(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if e.asJSON {
				return printJSON(e.stdout, a)
			}
			_, err = fmt.Fprintf(e.stdout, "restored %s (%s)\n", a.ID, a.Name)
			return err
		},
	}
}
