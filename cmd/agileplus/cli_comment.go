package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/agileplus/agileplus"
	"github.com/spf13/cobra"
)

// Comments on WPs and features, and archiving, restoring and deleting.

// newCommentCmd is "wp comment" or "feature comment": what names the
// thing commented on in usage lines (WP or FEATURE).
func newCommentCmd(e *env, what string) *cobra.Command {
	return group("comment", "Add, edit and list comments on a "+strings.ToLower(what),
		newCommentAddCmd(e, what), newCommentEditCmd(e), newCommentListCmd(e, what))
}

// bodyFrom is --body, or standard input when it is "-".
func bodyFrom(e *env, body string) (string, error) {
	if body != "-" {
		return body, nil
	}
	b, err := io.ReadAll(io.LimitReader(e.stdin, 4*agileplus.MaxCommentLen+1))
	return string(b), err
}

func newCommentAddCmd(e *env, what string) *cobra.Command {
	var body string
	lower := strings.ToLower(what)
	cmd := &cobra.Command{
		Use:   "add " + what + " --body TEXT",
		Short: "Comment on a " + lower + " (Markdown; --body - reads standard input)",
		Example: fmt.Sprintf(`  agileplus %s comment add %s --body "Blocked on the API review, @ana"`, map[string]string{"WP": "wp", "FEATURE": "feature"}[what],
			map[string]string{"WP": "CORE-12", "FEATURE": "login-flow"}[what]),
		Args: argNames(what),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("body") {
				return usagef(cmd, "--body is required")
			}
			b, err := bodyFrom(e, body)
			if err != nil {
				return err
			}
			c, err := e.tracker().AddComment(cmd.Context(), args[0], agileplus.CommentCreate{Body: b})
			if err != nil {
				return inFlagWords(err, map[string]string{"body": "--body"})
			}
			if e.asJSON {
				return printJSON(e.stdout, c)
			}
			_, err = fmt.Fprintf(e.stdout, "comment %s on %s by %s\n", c.ID, c.EntityKey, c.Author)
			return err
		},
	}
	cmd.Flags().StringVar(&body, "body", "", "the comment, in Markdown; - reads it from standard input (required)")
	return cmd
}

func newCommentEditCmd(e *env) *cobra.Command {
	var body string
	var ifVersion int64
	cmd := &cobra.Command{
		Use:     "edit COMMENT --body TEXT",
		Short:   "Replace the text of one of your own comments; the old text stays in its history",
		Example: `  agileplus wp comment edit cmt_01hz... --body "Unblocked: the review is done"`,
		Args:    argNames("COMMENT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("body") {
				return usagef(cmd, "--body is required")
			}
			b, err := bodyFrom(e, body)
			if err != nil {
				return err
			}
			c, err := e.tracker().EditComment(cmd.Context(), args[0], agileplus.CommentEdit{Body: b}, ifVersion)
			if err != nil {
				return inFlagWords(err, map[string]string{"body": "--body", "version": "--if-version"})
			}
			if e.asJSON {
				return printJSON(e.stdout, c)
			}
			_, err = fmt.Fprintf(e.stdout, "comment %s on %s edited (version %d)\n", c.ID, c.EntityKey, c.Version)
			return err
		},
	}
	cmd.Flags().StringVar(&body, "body", "", "the new text, in Markdown; - reads it from standard input (required)")
	ifVersionFlag(cmd, &ifVersion)
	return cmd
}

func newCommentListCmd(e *env, what string) *cobra.Command {
	var pg agileplus.Page
	cmd := &cobra.Command{
		Use:   "list " + what,
		Short: "List the comments on a " + strings.ToLower(what) + ", oldest first",
		Args:  argNames(what),
		RunE: func(cmd *cobra.Command, args []string) error {
			cs, err := e.tracker().Comments(cmd.Context(), args[0], pg)
			if err != nil {
				return err
			}
			next := nextCursor(cs, pg.Limit, func(c *agileplus.Comment) string { return c.ID })
			if e.asJSON {
				return printPage(e.stdout, cs, next)
			}
			if len(cs) == 0 {
				_, err := fmt.Fprintln(e.stdout, "No comments.")
				return err
			}
			for i, c := range cs {
				if i > 0 {
					fmt.Fprintln(e.stdout)
				}
				edited := ""
				if len(c.History) > 0 {
					edited = fmt.Sprintf(" (edited %s)", when(c.UpdatedAt))
				}
				fmt.Fprintf(e.stdout, "%s  %s  %s%s\n", c.ID, c.Author, when(c.CreatedAt), edited)
				for _, line := range strings.Split(strings.TrimRight(c.Body, "\n"), "\n") {
					fmt.Fprintf(e.stdout, "    %s\n", cell(line))
				}
			}
			moreHint(e.stderr, next)
			return nil
		},
	}
	pageFlags(cmd, &pg)
	return cmd
}

// archivedFlags adds --archived and --include-archived to a list.
func archivedFlags(cmd *cobra.Command, pg *agileplus.Page) {
	cmd.Flags().Var(archivedFlag{pg, agileplus.ArchivedOnly}, "archived", "list only archived ones")
	cmd.Flags().Var(archivedFlag{pg, agileplus.ArchivedInclude}, "include-archived", "list archived ones too")
	cmd.Flags().Lookup("archived").NoOptDefVal = "true"
	cmd.Flags().Lookup("include-archived").NoOptDefVal = "true"
	cmd.MarkFlagsMutuallyExclusive("archived", "include-archived")
}

// archivedFlag is a boolean flag that sets Page.Archived to mode.
type archivedFlag struct {
	pg   *agileplus.Page
	mode string
}

func (f archivedFlag) String() string { return "false" }
func (f archivedFlag) Type() string   { return "bool" }
func (f archivedFlag) IsBoolFlag() bool {
	return true
}

func (f archivedFlag) Set(v string) error {
	switch v {
	case "true":
		f.pg.Archived = f.mode
	case "false":
	default:
		return fmt.Errorf("want true or false, not %q", v)
	}
	return nil
}

// archiveCmd is "<kind> archive|restore REF": archive says which.
func archiveCmd[T any](e *env, kind, what string, archive bool, call func(t agileplus.Tracker, cmd *cobra.Command, ref string) (T, error)) *cobra.Command {
	verb, short := "restore", "Restore an archived "+kind
	if archive {
		verb, short = "archive", "Archive a "+kind+": it leaves lists"+map[bool]string{true: " and the ready set", false: ""}[kind == "work package"]+" but stays readable by key"
	}
	return &cobra.Command{
		Use:   verb + " " + what,
		Short: short,
		Args:  argNames(what),
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := call(e.tracker(), cmd, args[0])
			if err != nil {
				return err
			}
			if e.asJSON {
				return printJSON(e.stdout, v)
			}
			_, err = fmt.Fprintf(e.stdout, "%s %s %sd\n", kind, args[0], verb)
			return err
		},
	}
}

func newWPArchiveCmd(e *env) *cobra.Command {
	return archiveCmd(e, "work package", "WP", true, func(t agileplus.Tracker, cmd *cobra.Command, ref string) (*agileplus.WP, error) {
		return t.ArchiveWP(cmd.Context(), ref)
	})
}

func newWPRestoreCmd(e *env) *cobra.Command {
	return archiveCmd(e, "work package", "WP", false, func(t agileplus.Tracker, cmd *cobra.Command, ref string) (*agileplus.WP, error) {
		return t.RestoreWP(cmd.Context(), ref)
	})
}

func newFeatureArchiveCmd(e *env) *cobra.Command {
	return archiveCmd(e, "feature", "FEATURE", true, func(t agileplus.Tracker, cmd *cobra.Command, ref string) (*agileplus.Feature, error) {
		return t.ArchiveFeature(cmd.Context(), ref)
	})
}

func newFeatureRestoreCmd(e *env) *cobra.Command {
	return archiveCmd(e, "feature", "FEATURE", false, func(t agileplus.Tracker, cmd *cobra.Command, ref string) (*agileplus.Feature, error) {
		return t.RestoreFeature(cmd.Context(), ref)
	})
}

func newProjectArchiveCmd(e *env) *cobra.Command {
	return archiveCmd(e, "project", "PROJECT", true, func(t agileplus.Tracker, cmd *cobra.Command, ref string) (*agileplus.Project, error) {
		return t.ArchiveProject(cmd.Context(), ref)
	})
}

func newProjectRestoreCmd(e *env) *cobra.Command {
	return archiveCmd(e, "project", "PROJECT", false, func(t agileplus.Tracker, cmd *cobra.Command, ref string) (*agileplus.Project, error) {
		return t.RestoreProject(cmd.Context(), ref)
	})
}

func newWPDeleteCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "delete WP",
		Short: "Delete a work package never started that nothing depends on (archive one that was)",
		Args:  argNames("WP"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := e.tracker().DeleteWP(cmd.Context(), args[0]); err != nil {
				return err
			}
			if e.asJSON {
				return printJSON(e.stdout, map[string]any{"deleted": args[0]})
			}
			_, err := fmt.Fprintf(e.stdout, "work package %s deleted\n", args[0])
			return err
		},
	}
}

// archivedField is the "Archived" line of a show command.
func archivedField(at *time.Time) string { return whenPtr(at) }
