/* widget: built in issue 3 */
